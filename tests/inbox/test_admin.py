"""The admin pages: staff accounts and canned replies, kept by admins and refused to agents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.runtime import Runtime
from bot.staff import Staff
from bot.staff.canned import CannedReplies, CannedReply
from inbox.admin import removal_refused
from tests.inbox.conftest import PASSWORD, csrf_token, sign_in

WHEN = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


@pytest.fixture
def canned(runtime: Runtime) -> CannedReplies:
    return CannedReplies(runtime.record, clock=runtime.clock)


@pytest.fixture
def hours(canned: CannedReplies) -> CannedReply:
    return canned.add("Opening hours", "We're open 9-5, Monday to Friday.", by="ana@example.com")


def token(client) -> str:
    """Return the signed-in client's CSRF token, as any inbox page carries it."""
    return csrf_token(client.get("/inbox/canned").get_data(as_text=True))


def post(client, path: str, **data: str):
    """Send a form as the page would, with the session's CSRF token."""
    return client.post(path, data={"csrf_token": token(client), **data})


def test_an_admin_adds_an_agent_who_can_sign_in_and_then_removes_them(client, accounts) -> None:
    sign_in(client)
    page = client.get("/inbox/staff").get_data(as_text=True)
    assert "<td>bo@example.com</td>" in page and "<td>Bo Chen</td>" in page
    assert '<label for="new-email">Email</label>' in page
    added = post(
        client,
        "/inbox/staff",
        email=" Cy@Example.com",
        name="Cy Diaz",
        role="agent",
        password="another good one",
    )
    assert added.status_code == 302
    assert added.headers["Location"] == "/inbox/staff"
    page = client.get("/inbox/staff").get_data(as_text=True)
    assert "Added cy@example.com (agent)." in page
    assert "<td>cy@example.com</td>" in page and "<td>Cy Diaz</td>" in page
    cy_account = accounts.get("cy@example.com")
    assert cy_account is not None
    assert (cy_account.name, cy_account.role) == ("Cy Diaz", "agent")

    cy = client.application.test_client()
    assert sign_in(cy, "cy@example.com", "another good one").status_code == 302
    assert cy.get("/inbox/").status_code == 200

    removed = post(client, "/inbox/staff/remove", email="cy@example.com")
    assert removed.status_code == 302
    assert "Removed cy@example.com" in client.get("/inbox/staff").get_data(as_text=True)
    assert accounts.get("cy@example.com") is None
    assert cy.get("/inbox/").status_code == 302  # signed out at once


def test_the_list_shows_when_each_account_last_signed_in(client, accounts) -> None:
    sign_in(client)
    rows = client.get("/inbox/staff").get_data(as_text=True).split("<tr>")
    ana = next(row for row in rows if "<td>ana@example.com</td>" in row)
    bo = next(row for row in rows if "<td>bo@example.com</td>" in row)
    assert "<td>admin</td>" in ana and "<td>agent</td>" in bo
    assert "<td>never</td>" not in ana  # signed in just now
    assert "<td>never</td>" in bo


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"email": "cy@example.com", "password": "short"}, "at least 10 characters"),
        ({"email": "not an address", "password": PASSWORD}, "is not an email address"),
        (
            {"email": "BO@example.com", "password": PASSWORD},
            "bo@example.com already has an account",
        ),
        (
            {"email": "cy@example.com", "password": PASSWORD, "role": "owner"},
            "Role must be admin or agent",
        ),
    ],
)
def test_a_refused_account_is_explained_and_the_form_keeps_what_was_typed(
    client, accounts, form, error
) -> None:
    sign_in(client)
    data = {"name": "Cy Diaz", "role": "admin", **form}
    refused = post(client, "/inbox/staff", **data)
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'role="alert"' in html and error in html
    assert f'value="{data["email"]}"' in html
    assert 'value="Cy Diaz"' in html
    if data["role"] == "admin":
        assert '<option value="admin" selected>' in html
    assert data["password"] not in html.replace(data["email"], "")  # the password is not echoed
    assert [s.email for s in accounts.list()] == ["ana@example.com", "bo@example.com"]


def test_an_admin_cannot_remove_their_own_account(client, accounts) -> None:
    sign_in(client)
    page = client.get("/inbox/staff").get_data(as_text=True)
    assert 'aria-label="Remove bo@example.com"' in page
    assert 'aria-label="Remove ana@example.com"' not in page  # no button for yourself
    refused = post(client, "/inbox/staff/remove", email="ANA@example.com")
    assert refused.status_code == 302
    page = client.get("/inbox/staff").get_data(as_text=True)
    assert 'role="alert">You cannot remove your own account.' in page
    assert accounts.get("ana@example.com") is not None


def test_the_last_admin_cannot_be_removed() -> None:
    ana = Staff("ana@example.com", "Ana", "admin", WHEN)
    cy = Staff("cy@example.com", "Cy", "admin", WHEN)
    bo = Staff("bo@example.com", "Bo", "agent", WHEN)
    assert removal_refused(ana, "cy@example.com", [ana, bo, cy]) is None
    assert removal_refused(ana, "bo@example.com", [ana, bo, cy]) is None
    # Ana's own account was removed meanwhile (elsewhere): Cy is the last admin now.
    assert "last admin" in (removal_refused(ana, "cy@example.com", [bo, cy]) or "")
    assert "own account" in (removal_refused(ana, "ana@example.com", [ana, bo, cy]) or "")
    assert "no account" in (removal_refused(ana, "dee@example.com", [ana, bo, cy]) or "")


def test_removing_someone_already_gone_says_so(client, accounts) -> None:
    sign_in(client)
    post(client, "/inbox/staff/remove", email="dee@example.com")
    assert "dee@example.com has no account." in client.get("/inbox/staff").get_data(as_text=True)


def admin_routes(reply_id: str) -> list[tuple[str, str, dict[str, str]]]:
    """Every admin route, with a form that would succeed if an admin sent it."""
    return [
        ("GET", "/inbox/staff", {}),
        ("GET", f"/inbox/canned/{reply_id}/edit", {}),
        ("POST", "/inbox/staff", {"email": "cy@example.com", "password": PASSWORD}),
        ("POST", "/inbox/staff/remove", {"email": "ana@example.com"}),
        ("POST", "/inbox/canned", {"title": "Mine", "body": "Agents' own"}),
        ("POST", f"/inbox/canned/{reply_id}/edit", {"title": "Changed", "body": "by an agent"}),
        ("POST", f"/inbox/canned/{reply_id}/delete", {}),
    ]


def test_an_agent_cannot_manage_staff_or_canned_replies(client, accounts, canned, hours) -> None:
    sign_in(client, "bo@example.com")
    for method, path, data in admin_routes(hours.id):
        answer = client.get(path) if method == "GET" else post(client, path, **data)
        assert answer.status_code == 403, (method, path)
        assert "Only admins can do this." in answer.get_data(as_text=True)
    assert [s.email for s in accounts.list()] == ["ana@example.com", "bo@example.com"]
    assert canned.list() == [hours]


def test_forms_without_their_csrf_token_are_refused(client, accounts, canned, hours) -> None:
    sign_in(client)
    for method, path, data in admin_routes(hours.id):
        if method == "GET":
            continue
        assert client.post(path, data=data).status_code == 400, path
        forged = client.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 400, path
        assert "did not come from this site" in forged.get_data(as_text=True)
    assert [s.email for s in accounts.list()] == ["ana@example.com", "bo@example.com"]
    assert canned.list() == [hours]


def test_without_a_session_every_admin_page_sends_people_to_sign_in(
    client, accounts, hours
) -> None:
    pages = [path for method, path, _ in admin_routes(hours.id) if method == "GET"]
    for path in [*pages, "/inbox/canned"]:
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/inbox/sign-in?next=/inbox/")
    # A form sent with a valid token but no signed-in account does nothing either.
    signed_out = csrf_token(client.get("/inbox/sign-in").get_data(as_text=True))
    answer = client.post(
        "/inbox/staff/remove", data={"csrf_token": signed_out, "email": "bo@example.com"}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/inbox/sign-in")
    assert accounts.get("bo@example.com") is not None


def test_the_header_links_to_the_pages_each_role_may_use(client, accounts) -> None:
    sign_in(client, "bo@example.com")
    header = client.get("/inbox/").get_data(as_text=True).split("</header>")[0]
    assert ">Canned replies</a>" in header and ">Staff</a>" not in header
    ana = client.application.test_client()
    sign_in(ana)
    header = ana.get("/inbox/").get_data(as_text=True).split("</header>")[0]
    assert ">Canned replies</a>" in header and ">Staff</a>" in header


def test_an_admin_adds_edits_and_deletes_canned_replies(client, accounts, canned, clock) -> None:
    sign_in(client)
    assert "No canned replies yet." in client.get("/inbox/canned").get_data(as_text=True)
    added = post(client, "/inbox/canned", title="Opening hours", body="We're open 9-5.")
    assert added.status_code == 302 and added.headers["Location"] == "/inbox/canned"
    (reply,) = canned.list()
    assert (reply.title, reply.body, reply.updated_by) == (
        "Opening hours",
        "We're open 9-5.",
        "ana@example.com",
    )
    page = client.get("/inbox/canned").get_data(as_text=True)
    assert "Added the canned reply “Opening hours”." in page
    assert "Nov 30 2026, 17:00 UTC by ana@example.com" in page

    form = client.get(f"/inbox/canned/{reply.id}/edit").get_data(as_text=True)
    assert 'value="Opening hours"' in form and ">We&#39;re open 9-5.</textarea>" in form
    clock.advance(hours=2)
    saved = post(client, f"/inbox/canned/{reply.id}/edit", title="Hours", body="Now 9-6.")
    assert saved.status_code == 302
    assert [(r.title, r.body) for r in canned.list()] == [("Hours", "Now 9-6.")]
    assert "Nov 30 2026, 19:00 UTC" in client.get("/inbox/canned").get_data(as_text=True)

    refused = post(client, f"/inbox/canned/{reply.id}/edit", title="", body="kept text")
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'role="alert"' in html and "The title cannot be empty." in html
    assert ">kept text</textarea>" in html
    refused = post(client, "/inbox/canned", title="Long", body="x" * 1601)
    assert refused.status_code == 400
    assert "at most 1600 characters" in refused.get_data(as_text=True)

    deleted = post(client, f"/inbox/canned/{reply.id}/delete")
    assert deleted.status_code == 302
    assert canned.list() == []
    assert client.get(f"/inbox/canned/{reply.id}/edit").status_code == 404
    assert post(client, f"/inbox/canned/{reply.id}/delete").status_code == 404


def test_agents_read_canned_replies_without_the_forms_to_change_them(
    client, accounts, hours
) -> None:
    sign_in(client, "bo@example.com")
    page = client.get("/inbox/canned")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Opening hours" in html and "We&#39;re open 9-5, Monday to Friday." in html
    assert "Only admins can change them." in html
    assert "Add canned reply" not in html
    assert "Edit Opening hours" not in html and "Delete Opening hours" not in html
