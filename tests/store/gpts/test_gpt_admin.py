"""GPTs in the admin: staff with view rights look; verifying builders and closing reports
need the curator permission (change_gpt), and go through the services."""

import pytest

from store.gpts import services
from store.gpts.models import BuilderProfile, GptAuditEntry, GptReport
from tests.store.gpts.builders import metered_listing, published_gpt
from tests.test_admin_permissions import act, staff_with

pytestmark = pytest.mark.django_db


def test_verifying_a_builder_needs_the_curator_permission(client, user):
    profile = services.builder_profile_for(user)
    client.force_login(staff_with("store.view_builderprofile"))
    act(client, "/admin/store/builderprofile/", "verify", [profile])
    profile.refresh_from_db()
    assert not profile.verified

    client.force_login(staff_with("store.view_builderprofile", "store.change_gpt"))
    act(client, "/admin/store/builderprofile/", "verify", [profile])
    assert BuilderProfile.objects.get(pk=profile.pk).verified


def test_closing_a_report_needs_the_curator_permission_and_is_audited(
    client,
    user,
    other_user,
    tiny_model_dirs,  # noqa: F811
):
    gpt = published_gpt(user, metered_listing(tiny_model_dirs[True]))
    report = services.gpt_report(gpt=gpt, user=other_user, reason="It lies.")
    client.force_login(staff_with("store.view_gptreport"))
    act(client, "/admin/store/gptreport/", "close", [report])
    assert GptReport.objects.get(pk=report.pk).closed_at is None

    curator = staff_with("store.view_gptreport", "store.change_gpt")
    client.force_login(curator)
    act(client, "/admin/store/gptreport/", "close", [report])
    assert GptReport.objects.get(pk=report.pk).closed_at is not None
    assert GptAuditEntry.objects.filter(gpt=gpt, actor=curator, action="report closed").exists()


def test_the_admin_changes_no_gpt_itself(client, user, tiny_model_dirs):  # noqa: F811
    from django.contrib.auth.models import Permission

    gpt = published_gpt(user, metered_listing(tiny_model_dirs[True]))
    staff = staff_with("store.view_gpt", "store.change_gpt")
    staff.user_permissions.add(Permission.objects.get(codename="change_gpt"))
    client.force_login(staff)
    client.post(f"/admin/store/gpt/{gpt.pk}/change/", {"name": "Hijacked"})
    gpt.refresh_from_db()
    assert gpt.name == "Capital tutor"
