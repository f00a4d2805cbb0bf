"""HTML routes of the agencies app."""

from django.urls import path

from agencies import views

urlpatterns = [
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("audit/reports/", views.audit_reports, name="audit-reports"),
    path("people/", views.people, name="people"),
    path("people/<int:pk>/unlock/", views.person_unlock, name="person-unlock"),
    path("people/<int:pk>/training/", views.person_training, name="person-training"),
]
