from django.core.management.base import BaseCommand, CommandError

from promotions.generation import (
    CodeJobFinished,
    CodeJobNotFound,
    CodeJobRunning,
    job_by_id,
    resume_generation,
    resume_orphaned_jobs,
)


class Command(BaseCommand):
    help = (
        "Queue again the code generation jobs whose worker died (running, and no process "
        "holds the job's lock), or the jobs given by id (also queued or failed ones). A job "
        "continues from the codes it has made."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_ids", nargs="*", type=int, help="only these jobs")
        parser.add_argument("--queue", help="the Celery queue to send them to")

    def handle(self, *args, job_ids: list[int], queue: str | None, **options):
        if not job_ids:
            resumed = resume_orphaned_jobs(queue=queue)
            self.stdout.write(
                f"Queued again: {', '.join(map(str, resumed))}." if resumed else "No job to resume."
            )
            return
        failed = False
        for job_id in job_ids:
            try:
                resume_generation(job=job_by_id(job_id), queue=queue)
            except (CodeJobNotFound, CodeJobFinished, CodeJobRunning) as e:
                self.stderr.write(f"Job {job_id}: {e.message}")
                failed = True
                continue
            self.stdout.write(f"Job {job_id} queued again.")
        if failed:
            raise CommandError("Some jobs were not queued again.")
