"""The one API router, under /api/v1/: each app's viewsets, and the operator's (portal.platform)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from agencies.accounts import apis as member_apis
from agencies.audit.apis import AuditEventViewSet
from agencies.billing import apis as billing_apis
from portal.platform import apis as platform_apis
from search import apis
from search.opt_out_reviews import OptOutConsultationViewSet
from search.public_apis import PublicOptOutViewSet

router = DefaultRouter(trailing_slash=True)
router.register("cases", apis.CaseViewSet, basename="case")
router.register("galleries", apis.GalleryViewSet, basename="gallery")
router.register("searches", apis.SearchViewSet, basename="search")
router.register("audit", AuditEventViewSet, basename="audit")
router.register("subjects", apis.SubjectViewSet, basename="subject")
router.register("batches", apis.BatchViewSet, basename="batch")
router.register("public/opt-out", PublicOptOutViewSet, basename="public-opt-out")
router.register("opt-out-reviews", OptOutConsultationViewSet, basename="opt-out-review")
router.register("platform/opt-outs", platform_apis.PlatformOptOutViewSet, basename="platform-opt-out")
router.register("platform/agencies", platform_apis.PlatformAgencyViewSet, basename="platform-agency")
router.register("platform/plans", platform_apis.PlatformPlanViewSet, basename="platform-plan")
router.register("platform/licenses", platform_apis.PlatformLicenseViewSet, basename="platform-license")
router.register("invoices", billing_apis.InvoiceViewSet, basename="invoice")
router.register("invitations", member_apis.InvitationViewSet, basename="invitation")
router.register("role-requests", member_apis.RoleRequestViewSet, basename="role-request")

urlpatterns = [
    path("searches/<int:pk>/disclosure.pdf", apis.SearchDisclosureView.as_view({"get": "retrieve"}),
         name="search-disclosure"),
    path("policy/", apis.PolicyView.as_view({"get": "retrieve", "patch": "partial_update"}),
         name="policy"),
    path("usage/", billing_apis.UsageView.as_view({"get": "retrieve"}), name="usage"),
    path("retention/", apis.RetentionView.as_view({"get": "retrieve", "patch": "partial_update"}),
         name="retention"),
    path("invitations/accept/", member_apis.InvitationAcceptView.as_view(),
         name="invitation-accept-api"),
    *router.urls,
]
