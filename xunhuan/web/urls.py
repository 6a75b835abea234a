from django.urls import path

from xunhuan.web import (
    compliance_views,
    dashboard_views,
    exchange_views,
    import_views,
    ledger_views,
    public_views,
    target_views,
    transfer_views,
    views,
)

app_name = "web"
E = "enterprises/<str:credit_code>/"
urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("targets/", target_views.targets_page, name="targets"),
    path("public/", public_views.public_aggregates_page, name="public"),
    path("transfers/", transfer_views.transfers_page, name="transfers"),
    path("transfers/<str:number>/", transfer_views.transfer_detail, name="transfer"),
    path("exchange/", exchange_views.runs_page, name="exchange_runs"),
    path("exchange/<str:run_id>/", exchange_views.run_page, name="exchange_run"),
    path(
        "exchange/<str:run_id>/flows/<int:seq>/accept/",
        exchange_views.flow_accept,
        name="exchange_flow_accept",
    ),
    path("compliance/", compliance_views.queue, name="findings"),
    path("compliance/export.xlsx", compliance_views.queue_export, name="findings_export"),
    path("compliance/<uuid:finding_id>/", compliance_views.finding_detail, name="finding"),
    path(E, views.enterprise_detail, name="enterprise"),
    path(E + "findings/", compliance_views.enterprise_findings, name="enterprise_findings"),
    path(E + "chain/", ledger_views.chain_badge, name="chain_badge"),
    path(E + "ledger/", ledger_views.ledger_history, name="ledger"),
    path(E + "ledger/new/", ledger_views.entry_new, name="entry_new"),
    path(E + "ledger/<uuid:entry_id>/correct/", ledger_views.entry_correct, name="entry_correct"),
    path(E + "ledger/export/", import_views.ledger_export, name="ledger_export"),
    path(E + "ledger/annual.pdf", import_views.annual_summary, name="annual_summary"),
    path(E + "imports/", import_views.imports_page, name="imports"),
    path(E + "imports/template/", import_views.import_template, name="import_template"),
    path(E + "imports/<uuid:session_id>/", import_views.import_session, name="import_session"),
    path(
        E + "imports/<uuid:session_id>/progress/",
        import_views.import_progress,
        name="import_progress",
    ),
    path(E + "imports/<uuid:session_id>/commit/", import_views.import_commit, name="import_commit"),
]
