# The dashboard for a team:
#   docker build -t probing .
#   docker run -p 8501:8501 -v $PWD/workspace:/app/workspace \
#     -v $PWD/secrets.toml:/app/.streamlit/secrets.toml:ro probing      # login: see README
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
# .dockerignore keeps the virtualenv, the workspace and secrets.toml out of the image.
COPY . .
# Run as an unprivileged user; the workspace is the only place it writes.
RUN useradd --create-home --uid 1000 probing && mkdir -p /app/workspace && chown probing /app/workspace
USER probing
ENV PROBING_WORKSPACE=/app/workspace
VOLUME /app/workspace
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"
# serve.py: the app behind the upload gate (uploads only after login, bounded in size and rate), on uvicorn.
CMD ["streamlit", "run", "serve.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.fileWatcherType", "none"]
