"""API routes of the search app, under /api/v1/."""

from rest_framework.routers import DefaultRouter

from search import apis

router = DefaultRouter(trailing_slash=True)
router.register("cases", apis.CaseViewSet, basename="case")
router.register("galleries", apis.GalleryViewSet, basename="gallery")
router.register("searches", apis.SearchViewSet, basename="search")

urlpatterns = router.urls
