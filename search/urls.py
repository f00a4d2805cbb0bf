"""HTML routes of the search app."""

from django.urls import path

from search import opt_out_reviews, oversight_views, public_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list, name="case-list"),
    path("reviews/", views.review_queue, name="review-queue"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/decide/", views.case_decide, name="case-decide"),
    path("cases/<int:pk>/searches/", views.search_new, name="search-new"),
    path("searches/<int:pk>/", views.search_detail, name="search-detail"),
    path("searches/<int:pk>/panel/", views.search_panel, name="search-panel"),
    path("searches/<int:pk>/weak/", views.search_weak_candidates, name="search-weak-candidates"),
    path("searches/<int:pk>/candidates/<int:rank>/review/", views.candidate_review,
         name="candidate-review"),
    path("searches/<int:pk>/disclosure.pdf", views.search_disclosure, name="search-disclosure-pdf"),
    path("cases/<int:pk>/assign/", views.case_assign, name="case-assign"),
    path("policy/", views.policy, name="policy"),
    path("retention/", views.retention, name="retention"),
    path("cases/<int:pk>/close/", views.case_close, name="case-close"),
    path("subjects/<int:pk>/erasure/", views.subject_erasure, name="subject-erasure"),
    path("opt-out/", public_views.opt_out, name="opt-out"),
    path("opt-out/confirm/<str:token>/", public_views.opt_out_confirm, name="opt-out-confirm"),
    path("transparency/", public_views.transparency, name="transparency"),
    path("audit/reports/", oversight_views.audit_reports, name="audit-reports"),
    path("opt-out-reviews/", opt_out_reviews.consultation_list, name="opt-out-reviews"),
    path("opt-out-reviews/<int:pk>/", opt_out_reviews.consultation_detail, name="opt-out-review"),
    path("galleries/", views.gallery_list, name="gallery-list"),
    path("galleries/<int:pk>/", views.gallery_detail, name="gallery-detail"),
    path("galleries/<int:pk>/batches/", views.batch_new, name="batch-new"),
    path("batches/<int:pk>/", views.batch_detail, name="batch-detail"),
    path("batches/<int:pk>/panel/", views.batch_panel, name="batch-panel"),
    path("batches/<int:pk>/errors.csv", views.batch_errors, name="batch-errors"),
    path("images/faces/<int:pk>/", views.face_image, name="face-image"),
    path("images/searches/<int:pk>/candidates/<int:rank>/", views.candidate_image,
         name="candidate-image"),
    path("images/searches/<int:pk>/<str:part>/", views.probe_image, name="probe-image"),
]
