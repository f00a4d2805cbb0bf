"""HTML routes of the agencies app: the auditor's and the agency admin's pages."""

from django.urls import path

from agencies.accounts import people_views
from agencies.audit import views as audit_views
from agencies.billing import views as billing_views

urlpatterns = [
    path("audit/", audit_views.audit_list, name="audit-list"),
    path("audit/export.csv", audit_views.audit_export, name="audit-export"),
    path("people/", people_views.people, name="people"),
    path("people/invite/", people_views.person_invite, name="person-invite"),
    path("people/<int:pk>/update/", people_views.person_update, name="person-update"),
    path("people/invites/<int:pk>/revoke/", people_views.invitation_revoke_view,
         name="invitation-revoke"),
    path("people/invites/<int:pk>/resend/", people_views.invitation_resend_view,
         name="invitation-resend"),
    path("invitations/<str:token>/", people_views.invitation_accept_view, name="invitation-accept"),
    path("usage/", billing_views.usage, name="usage"),
    path("people/<int:pk>/unlock/", people_views.person_unlock, name="person-unlock"),
    path("people/<int:pk>/mfa-reset/", people_views.person_mfa_reset, name="person-mfa-reset"),
    path("people/<int:pk>/training/", people_views.person_training, name="person-training"),
    path("people/role-requests/<int:pk>/", people_views.role_request_decide, name="role-request-decide"),
]
