from django.contrib import admin
from django.http import HttpRequest

from agencies.models import Agency, Membership


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "awaiting_approval"]
    list_filter = ["agency", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        # Roles change on the People page, where a supervisor or admin role needs a second
        # approver and every change is audited; this page would skip both.
        return ["role", "awaiting_approval", "training_valid_until"] if obj else []
