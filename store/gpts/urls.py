from django.urls import path

from store.gpts import views

app_name = "gpts"

urlpatterns = [
    path("gpts/", views.gpt_store, name="store"),
    path("gpts/build/", views.builder_home, name="builder"),
    path("gpts/build/profile", views.builder_profile, name="builder-profile"),
    path("gpts/build/new", views.builder_new, name="new"),
    path("gpts/build/<int:gpt_id>/", views.builder_edit, name="edit"),
    path("gpts/build/<int:gpt_id>/knowledge", views.builder_knowledge_add, name="knowledge-add"),
    path(
        "gpts/build/<int:gpt_id>/knowledge/<int:file_id>/remove",
        views.builder_knowledge_remove,
        name="knowledge-remove",
    ),
    path("gpts/build/<int:gpt_id>/avatar", views.builder_avatar, name="avatar-upload"),
    path("gpts/build/<int:gpt_id>/publish", views.builder_publish, name="publish"),
    path("gpts/build/<int:gpt_id>/preview", views.builder_preview, name="preview"),
    path("gpts/curate/", views.curate, name="curate"),
    path("gpts/curate/<int:gpt_id>/<str:action>", views.curate_action, name="curate-action"),
    path(
        "gpts/curate/reports/<int:report_id>/close",
        views.curate_report_close,
        name="report-close",
    ),
    path("gpts/chat/stop", views.chat_stop, name="chat-stop"),
    path(
        "gpts/conversations/<int:conversation_id>/rename",
        views.conversation_rename,
        name="conversation-rename",
    ),
    path(
        "gpts/conversations/<int:conversation_id>/delete",
        views.conversation_delete,
        name="conversation-delete",
    ),
    path("gpts/<slug:handle>/<slug:slug>/", views.gpt_detail, name="detail"),
    path("gpts/<slug:handle>/<slug:slug>/avatar.png", views.gpt_avatar, name="avatar"),
    path("gpts/<slug:handle>/<slug:slug>/rate", views.gpt_rate, name="rate"),
    path("gpts/<slug:handle>/<slug:slug>/report", views.gpt_report, name="report"),
    path("gpts/<slug:handle>/<slug:slug>/chat/", views.chat_page, name="chat"),
    path("gpts/<slug:handle>/<slug:slug>/chat/send", views.chat_send, name="chat-send"),
    path(
        "gpts/<slug:handle>/<slug:slug>/chat/<int:conversation_id>/",
        views.chat_page,
        name="conversation",
    ),
]
