"""HTML routes of the agencies app."""

from django.urls import path

from agencies import platform_views, views

urlpatterns = [
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("audit/reports/", views.audit_reports, name="audit-reports"),
    path("people/", views.people, name="people"),
    path("people/invite/", views.person_invite, name="person-invite"),
    path("people/<int:pk>/update/", views.person_update, name="person-update"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation-accept"),
    path("usage/", views.usage, name="usage"),
    path("platform/", platform_views.dashboard, name="platform-dashboard"),
    path("platform/licenses/<int:pk>/toggle/", platform_views.license_toggle,
         name="platform-license-toggle"),
    path("platform/accounts/unlock/", platform_views.account_unlock_view,
         name="platform-account-unlock"),
    path("people/<int:pk>/unlock/", views.person_unlock, name="person-unlock"),
    path("people/<int:pk>/mfa-reset/", views.person_mfa_reset, name="person-mfa-reset"),
    path("people/<int:pk>/training/", views.person_training, name="person-training"),
    path("people/role-requests/<int:pk>/", views.role_request_decide, name="role-request-decide"),
    path("platform/role-requests/", platform_views.role_requests, name="platform-role-requests"),
    path("platform/role-requests/<int:pk>/", platform_views.role_request_decide,
         name="platform-role-request-decide"),
]
