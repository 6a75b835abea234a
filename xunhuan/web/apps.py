from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "xunhuan.web"
