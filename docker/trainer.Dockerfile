# syntax=docker/dockerfile:1
# Image of the one-shot trainer: TensorFlow (cpu), scikit-learn and the offline ECG5000
# copy. It writes a model bundle into the shared /models volume and exits.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY detector detector
COPY producer producer
COPY training training
RUN pip install ".[train,data]"

FROM ${PYTHON_IMAGE}
# Same uid/gid as the detector image, which reads the bundle this image writes.
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
    TF_CPP_MIN_LOG_LEVEL=2
USER ecg:ecg
# Healthy = the bundle is on the shared volume (after a run, or when one already
# existed). Compose waits on this job's exit status (service_completed_successfully).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=1 \
  CMD ["python", "-c", "import pathlib, sys; sys.exit(not pathlib.Path('/models/run/bundle/bundle.json').is_file())"]
CMD ["ecg-train", "--help"]
