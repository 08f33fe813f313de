# Chaperone gateway image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir .
COPY config ./config
COPY rules ./rules
RUN useradd --system --home /var/lib/chaperone chaperone && mkdir -p /var/lib/chaperone \
    && chown chaperone /var/lib/chaperone
USER chaperone
EXPOSE 2525 9025
ENTRYPOINT ["gateway"]
CMD ["serve", "--config", "/app/config/gateway.toml", "--data-dir", "/var/lib/chaperone"]
