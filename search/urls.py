"""HTML routes of the search app."""

from django.urls import path

from search import views

urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/decide/", views.case_decide, name="case-decide"),
    path("cases/<int:pk>/searches/", views.search_new, name="search-new"),
    path("searches/<int:pk>/", views.search_detail, name="search-detail"),
    path("searches/<int:pk>/panel/", views.search_panel, name="search-panel"),
    path("searches/<int:pk>/candidates/<int:rank>/review/", views.candidate_review,
         name="candidate-review"),
    path("searches/<int:pk>/disclosure.pdf", views.search_disclosure, name="search-disclosure-pdf"),
    path("cases/<int:pk>/assign/", views.case_assign, name="case-assign"),
    path("policy/", views.policy, name="policy"),
    path("galleries/", views.gallery_list, name="gallery-list"),
    path("galleries/<int:pk>/", views.gallery_detail, name="gallery-detail"),
    path("images/faces/<int:pk>/", views.face_image, name="face-image"),
    path("images/searches/<int:pk>/<str:part>/", views.probe_image, name="probe-image"),
]
