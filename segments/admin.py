from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from customers.admin import ReadOnlyAdmin
from segments import services
from segments.models import Segment, SegmentMember, SegmentSize
from segments.selectors import segments_with_last_size


class SegmentMemberInline(admin.TabularInline):
    model = SegmentMember
    raw_id_fields = ("customer",)
    extra = 0
    readonly_fields = ("added_at",)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "size", "size_measured_at", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")
    inlines = (SegmentMemberInline,)
    actions = ("refresh_now",)

    def get_queryset(self, request):
        return segments_with_last_size()

    @admin.display(description=_("size at last refresh"), ordering="size")
    def size(self, obj):
        return obj.size

    @admin.display(description=_("refreshed"), ordering="size_measured_at")
    def size_measured_at(self, obj):
        return obj.size_measured_at

    def get_inlines(self, request, obj):
        # Only a static segment has a hand-kept list.
        return self.inlines if obj is not None and obj.kind == Segment.Kind.STATIC else ()

    def save_related(self, request, form, formsets, change):
        # The form ran Segment.clean(), which refuses invalid rules with a pointed message;
        # what is saved is then brought into the snapshot at once.
        super().save_related(request, form, formsets, change)
        services.refresh_segment(segment_id=form.instance.pk)

    @admin.action(description=_("Refresh the snapshots of the selected segments"))
    def refresh_now(self, request, queryset):
        for segment in queryset:
            services.refresh_segment(segment_id=segment.pk)
        messages.success(request, _("%(count)d segments refreshed.") % {"count": len(queryset)})


@admin.register(SegmentSize)
class SegmentSizeAdmin(ReadOnlyAdmin):
    list_display = ("segment", "measured_at", "size")
    list_filter = ("segment",)
    list_select_related = ("segment",)
    date_hierarchy = "measured_at"
