"""Researchers and scripts asking questions: the load run (`python -m iomqa.bench.load`)."""

from __future__ import annotations

import random

from locust import HttpUser, between, task

QUESTIONS = [
    "How many Member States did the IOM Council have in 2018?",
    "How many participants attended the 2016 dialogue workshop in New York?",
    "remittances and financial inclusion of migrants",
    "How did the COVID-19 pandemic affect human mobility?",
    "migration data for the Sustainable Development Goals",
    "health services for migrants regardless of status",
    "diaspora engagement in post-pandemic recovery",
    "climate change and displacement",
    "labour migration and skills partnerships",
    "What role do cities and local authorities play?",
]


class Researcher(HttpUser):
    wait_time = between(0.05, 0.25)
    passage_ids: list[str]

    def on_start(self) -> None:
        self.passage_ids = []

    @task(6)
    def ask_post(self) -> None:
        question = random.choice(QUESTIONS)
        with self.client.post(
            "/ask", json={"question": question, "top_k": 5}, name="POST /ask", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}: {r.text[:200]}")
                return
            body = r.json()
            if not body.get("index_version") or not body.get("passages"):
                r.failure("answer without index_version or passages")
                return
            self.passage_ids = [p["passage_id"] for p in body["passages"]]

    @task(2)
    def ask_get(self) -> None:
        self.client.get("/ask", params={"q": random.choice(QUESTIONS), "k": 3}, name="GET /ask")

    @task(1)
    def passage(self) -> None:
        if self.passage_ids:
            pid = random.choice(self.passage_ids)
            self.client.get(f"/passages/{pid}", name="GET /passages/{passage_id}")

    @task(1)
    def documents(self) -> None:
        self.client.get("/documents", name="GET /documents")

    @task(1)
    def health(self) -> None:
        self.client.get("/health", name="GET /health")
