"""HTML routes of the platform operator's pages."""

from django.urls import path

from portal.platform import billing_views, views

urlpatterns = [
    path("platform/", views.dashboard, name="platform-dashboard"),
    path("platform/licenses/<int:pk>/toggle/", views.license_toggle, name="platform-license-toggle"),
    path("platform/accounts/unlock/", views.account_unlock_view, name="platform-account-unlock"),
    path("platform/role-requests/", views.role_requests, name="platform-role-requests"),
    path("platform/role-requests/<int:pk>/", views.role_request_decide,
         name="platform-role-request-decide"),
    path("platform/opt-outs/", views.opt_out_queue, name="platform-opt-outs"),
    path("platform/opt-outs/<int:pk>/decide/", views.opt_out_decide, name="platform-opt-out-decide"),
    path("platform/opt-outs/<int:pk>/photo/", views.opt_out_photo, name="platform-opt-out-photo"),
    path("platform/plans/", billing_views.plan_list, name="platform-plans"),
    path("platform/plans/<int:pk>/", billing_views.plan_edit, name="platform-plan-edit"),
    path("platform/plans/<int:pk>/delete/", billing_views.plan_delete_view,
         name="platform-plan-delete"),
    path("platform/invoices/", billing_views.invoice_list, name="platform-invoices"),
    path("platform/invoices/<int:pk>/pdf/", billing_views.invoice_download, {"fmt": "pdf"},
         name="platform-invoice-pdf"),
    path("platform/invoices/<int:pk>/csv/", billing_views.invoice_download, {"fmt": "csv"},
         name="platform-invoice-csv"),
]
