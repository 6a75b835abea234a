from django.urls import path

from xunhuan.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("enterprises/<str:credit_code>/", views.enterprise_detail, name="enterprise"),
]
