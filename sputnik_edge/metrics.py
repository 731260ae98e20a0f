"""Prometheus metrics, one registry per app instance (tests run several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.frames = Counter("sputnik_frames_processed", "Frames processed", ["camera"], registry=r)
        self.faces = Counter("sputnik_faces_detected", "Faces detected", ["camera"], registry=r)
        self.embeds = Counter("sputnik_faces_embedded", "Faces embedded", ["camera"], registry=r)
        self.decisions = Counter(
            "sputnik_decisions", "Match decisions per embedded face", ["decision"], registry=r
        )
        self.quality_rejects = Counter(
            "sputnik_quality_rejects", "Faces stopped by the quality gate", ["reason"], registry=r
        )
        self.events = Counter("sputnik_events", "Attendance events recorded", ["kind"], registry=r)
        self.cooldown_suppressed = Counter(
            "sputnik_cooldown_suppressed",
            "Check-ins/outs not recorded because the same person had one at this camera within cooldown_s",
            ["camera"],
            registry=r,
        )
        self.liveness_verdicts = Counter(
            "sputnik_liveness_verdicts",
            "Liveness verdict of each track that left the picture (liveness.mode monitor or enforce)",
            ["verdict"],
            registry=r,
        )
        self.frame_latency = Histogram(
            "sputnik_frame_processing_seconds",
            "Capture to end of processing, per frame",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.event_latency = Histogram(
            "sputnik_frame_to_outbox_seconds",
            "Capture of the deciding frame to the durable outbox commit",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.reconnects = Gauge("sputnik_camera_reconnects", "Camera reconnects", ["camera"], registry=r)
        self.camera_up = Gauge(
            "sputnik_camera_up", "1 when the camera delivers frames", ["camera"], registry=r
        )
        self.frames_dropped = Gauge(
            "sputnik_camera_frames_dropped", "Frames replaced before processing", ["camera"], registry=r
        )
        self.outbox_backlog = Gauge("sputnik_outbox_backlog", "Events not yet synced", registry=r)
        self.gallery_size = Gauge("sputnik_gallery_templates", "Templates in the gallery", registry=r)
        self.sync_failures = Counter(
            "sputnik_sync_failures", "Failed central push, pull or heartbeat attempts", registry=r
        )
        self.sync_pushed = Counter("sputnik_sync_events_pushed", "Events pushed to central", registry=r)
        self.sync_last_success = Gauge(
            "sputnik_sync_last_success_timestamp", "Unix time of the last successful push", registry=r
        )
        self.snapshot_requests = Counter(
            "sputnik_gateway_snapshots", "Gateway snapshot requests", ["result"], registry=r
        )
        self.job_failures = Counter("sputnik_job_failures", "Scheduled job failures", ["job"], registry=r)
        self.disk_free = Gauge(
            "sputnik_disk_free_bytes", "Free space on the file system of the local store", registry=r
        )
        # Event outputs (webhooks, MQTT), per output id.
        self.output_delivered = Counter(
            "sputnik_output_events_delivered", "Events delivered by an output", ["output"], registry=r
        )
        self.output_failures = Counter(
            "sputnik_output_failures", "Failed delivery attempts of an output", ["output"], registry=r
        )
        self.output_dropped = Counter(
            "sputnik_output_events_dropped",
            "Events skipped by an output's backlog cap",
            ["output"],
            registry=r,
        )
        self.output_backlog = Gauge(
            "sputnik_output_backlog", "Events an output has not delivered", ["output"], registry=r
        )
        self.output_up = Gauge(
            "sputnik_output_up", "1 unless the output's last attempt failed", ["output"], registry=r
        )
        self.output_last_success = Gauge(
            "sputnik_output_last_success_timestamp",
            "Unix time of an output's last delivery",
            ["output"],
            registry=r,
        )
