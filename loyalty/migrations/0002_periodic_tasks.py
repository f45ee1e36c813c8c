from django.db import migrations

SCHEDULES = [
    # (task, name, every, period)
    ("loyalty.activate_pending_points", "Loyalty: activate pending points, reward referrals", 1, "hours"),
    ("loyalty.expire_points", "Loyalty: expire points (oldest first)", 1, "hours"),
    ("loyalty.review_tiers", "Loyalty: re-evaluate tiers at the end of their period", 1, "days"),
    ("loyalty.draw_sweepstakes", "Loyalty: draw sweepstakes whose time has come", 15, "minutes"),
]


def add_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task, name, every, period in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=[task for task, *_ in SCHEDULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
