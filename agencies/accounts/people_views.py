"""The agency admin's pages about people: accounts, invitations, unlocks, training, role requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agencies.accounts.approvals import (
    needs_second_approval,
    pending_role_requests,
    role_request_approve,
    role_request_refuse,
)
from agencies.accounts.filters import PeopleFilter
from agencies.accounts.selectors import (
    agency_member_get,
    agency_members_with_roles,
    invitation_get,
    invitations_pending,
    locked_usernames,
)
from agencies.accounts.services import (
    INVITATION_DAYS,
    account_unlock,
    invitation_accept,
    invitation_create,
    invitation_open,
    invitation_resend,
    invitation_revoke,
    masked_email,
    member_update,
    mfa_reset,
    training_record,
)
from agencies.accounts.usernames import USERNAME_HELP, validate_username
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import Role
from agencies.tenancy.requests import MemberRequest
from portal.errors import ServiceError
from portal.listing import listing


@member_required(Role.AGENCY_ADMIN)
def people(request: MemberRequest) -> HttpResponse:
    """The agency admin's list of accounts: role, training, second factor, lockout."""
    members = listing(request, PeopleFilter, agency_members_with_roles(agency=request.agency),
                      PEOPLE_COLUMNS)
    locked = locked_usernames([m.username for m in members.page])
    invitations = list(invitations_pending(agency=request.agency))
    for invitation in invitations:  # masked, as everywhere the admin sees an invitee's address
        invitation.shown_email = masked_email(invitation.email)  # type: ignore[attr-defined]
    return render(request, "agencies/people.html", {
        "listing": members, "locked": locked, "invite_form": InviteForm(), "roles": Role.choices,
        "role_requests": pending_role_requests(agency=request.agency),
        "invitations": invitations, "now": timezone.now(),
        "invitation_days": INVITATION_DAYS},
        status=400 if members.invalid else 200)


PEOPLE_COLUMNS = [("User", "name"), ("Role", "role"), ("Training valid until", "training"),
                  ("State", "active"), ("Actions", "")]


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_unlock(request: MemberRequest, pk: int) -> HttpResponse:
    user = _member(request, pk)
    account_unlock(admin=request.user, user=user)
    messages.success(request, f"{user.get_username()} is unlocked.")
    return redirect("people")


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_mfa_reset(request: MemberRequest, pk: int) -> HttpResponse:
    user = _member(request, pk)
    mfa_reset(admin=request.user, user=user)
    messages.success(request, f"The second factor of {user.get_username()} is removed; they set up "
                     "a new authenticator at their next sign-in.")
    return redirect("people")


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_training(request: MemberRequest, pk: int) -> HttpResponse:
    user = _member(request, pk)
    try:
        valid_until = date.fromisoformat(request.POST.get("valid_until", ""))
    except ValueError:
        messages.error(request, "Give the date until which the training is valid.")
    else:
        try:
            training_record(admin=request.user, user=user, valid_until=valid_until)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Training of {user.get_username()} recorded until "
                             f"{valid_until}.")
    return redirect("people")


def _member(request: MemberRequest, pk: int) -> User:
    # Disabled accounts too: the admin re-activates them here.
    return agency_member_get(agency=request.agency, key=pk, active_only=False)


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_invite(request: MemberRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give an e-mail address and a role.")
        return redirect("people")
    try:
        invitation = invitation_create(admin=request.user, **form.cleaned_data)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:  # the link went to the invitee alone; the admin sees only whom it went to
        messages.success(request, f"Invitation e-mailed to {masked_email(invitation.email)}. "
                         f"The link in it works for {INVITATION_DAYS} days.")
    return redirect("people")


@member_required(Role.AGENCY_ADMIN)
def invitation_revoke_view(request: MemberRequest, pk: int) -> HttpResponse:
    """Ask first (GET, or a POST without the confirmation), then revoke; the link dies at once."""
    invitation = invitation_get(agency=request.agency, pk=pk)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "agencies/invitation_revoke_confirm.html",
                      {"invitation": invitation, "shown_email": masked_email(invitation.email)})
    invitation_revoke(admin=request.user, invitation_id=invitation.pk)
    messages.success(request, f"The invitation of {masked_email(invitation.email)} is revoked; its link no "
                     "longer works.")
    return redirect("people")


T = TypeVar("T")

def _attempt(request: HttpRequest, action: Callable[[], T]) -> T | None:
    """The service's answer, or None once its refusal is shown as a message; a missing (or another
    agency's) object stays a 404."""
    try:
        return action()
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
        return None


@require_POST
@member_required(Role.AGENCY_ADMIN)
def invitation_resend_view(request: MemberRequest, pk: int) -> HttpResponse:
    invitation = _attempt(request, lambda: invitation_resend(admin=request.user, invitation_id=pk))
    if invitation is not None:
        messages.success(request, f"Invitation e-mailed again to {masked_email(invitation.email)} "
                         f"with a new link, valid until {invitation.expires_at:%Y-%m-%d %H:%M} "
                         "UTC; the earlier link no longer works.")
    return redirect("people")


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_update(request: MemberRequest, pk: int) -> HttpResponse:
    user = _member(request, pk)
    action = request.POST.get("action")
    if action == "deactivate" and request.POST.get("confirm") != "yes":  # ask, saying what it does
        return render(request, "agencies/person_deactivate_confirm.html", {"person": user})
    try:
        if action == "role":
            asked = member_update(admin=request.user, user=user, role=request.POST.get("role"))
        else:
            asked = member_update(admin=request.user, user=user, active=action == "activate")
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _updated(user, action) if asked is None else
                         f"{user.get_username()} as {asked.get_role_display().lower()} now waits "
                         "for another admin's approval.")
    return redirect("people")


def _updated(user: User, action: str | None) -> str:
    name = user.get_username()
    if action == "deactivate":
        return f"{name} is deactivated: they can no longer sign in or use the API."
    if action == "activate":
        return f"{name} is active again."
    return f"{name} is now {user.membership.get_role_display().lower()}."


@require_POST
@member_required(Role.AGENCY_ADMIN)
def role_request_decide(request: MemberRequest, pk: int) -> HttpResponse:
    """Another admin approves or refuses a requested supervisor or admin role."""
    return role_request_decision(request, pk, redirect_to="people")


class AcceptForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[validate_username],
                               help_text=USERNAME_HELP)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text="At least 12 characters, not a common password.")


def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_open(token)
    except ServiceError as exc:
        return render(request, "agencies/invitation.html", {"error": exc.message}, status=404)
    form = AcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_accept(token=token, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return render(request, "agencies/invitation.html", {
                "created": True, "awaiting": needs_second_approval(invitation.role)})
    return render(request, "agencies/invitation.html", {"form": form, "invitation": invitation})


def role_request_decision(request: HttpRequest, pk: int, *, redirect_to: str) -> HttpResponse:
    """Approve or refuse a role request from a page (the agency's or the operator's)."""
    approve = request.POST.get("decision") == "approve"
    decide = role_request_approve if approve else role_request_refuse
    decided = _attempt(request, lambda: decide(approver=request.user, request_id=pk))
    if decided is not None:
        messages.success(request, f"{decided.user.get_username()} as "
                         f"{decided.get_role_display().lower()}: "
                         f"{'approved' if approve else 'refused'}.")
    return redirect(redirect_to)
