"""Celery tasks of fine-tuning: the training run (queue "training"), and the upkeep."""

import os
import socket
import uuid

from celery import shared_task

from inference.training.runner import job_run
from inference.training.services import TRAIN_TASK, training_upkeep


# acks_late + reject_on_worker_lost: a worker killed mid-training hands the message back,
# and the next delivery resumes from the job's last checkpoint. No time limit: a run takes
# as long as its data; its lease (inference/training/services.py) tells whether it is alive.
@shared_task(
    name=TRAIN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=None,
    soft_time_limit=None,
)
def fine_tune(job_id: str) -> str:
    runner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return job_run(job_id=job_id, runner=runner)


@shared_task(name="training.upkeep", ignore_result=True)
def upkeep() -> int:
    return training_upkeep()
