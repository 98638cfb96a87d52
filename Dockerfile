# The action's image: pypi-publish and its hash-locked dependencies in /opt/venv on a slim Python.
#
# BASE is the official python:3.13-slim (Debian 13) image, pinned by its multi-platform index
# digest so amd64 and arm64 runners resolve the same release; the tag in front of the digest only
# documents it. Any Debian-style Python 3.10+ image with `python -m venv` works as BASE (the tests
# build on a local Debian 12 / Python 3.11 one). Refresh the digest deliberately, with the locks:
# docker/lock.sh and the README ("The action's image").
ARG BASE=python:3.13.15-slim-trixie@sha256:8d9d0b8bcf6506481eae4907c18f5e3e7902e629f5f6d684f9e7c32e85e3ddf0

FROM ${BASE} AS builder
# A directory of wheels to install from instead of PyPI (the offline tests mount one); the hashes
# are checked all the same.
ARG WHEELHOUSE=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

COPY docker/requirements.lock docker/build-requirements.lock /tmp/lock/
# Build tools live in their own venv, which stays in this stage. /opt/venv gets no pip of the base's:
# its pip (and everything else) comes from the lock, installed by the tools venv's pip (--python),
# so the final environment is the same on every base.
RUN if [ -n "$WHEELHOUSE" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE"; fi \
 && python -m venv /opt/build-tools \
 && /opt/build-tools/bin/python -m pip install --quiet --require-hashes --only-binary=:all: \
      -r /tmp/lock/build-requirements.lock \
 && python -m venv --without-pip /opt/venv \
 && /opt/build-tools/bin/python -m pip --python /opt/venv/bin/python install --quiet \
      --require-hashes --only-binary=:all: --no-compile -r /tmp/lock/requirements.lock

COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/build-tools/bin/python -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
      --wheel-dir /tmp/wheels /src \
 && /opt/build-tools/bin/python -m pip --python /opt/venv/bin/python install --quiet --no-deps \
      --no-index --no-compile /tmp/wheels/pypi_publish-*.whl \
 && /opt/venv/bin/python -m pip check \
 && /opt/venv/bin/python -I -B -c "import pypi_publish.action, pypi_publish.builder, readme_renderer.rst"

# Byte-compile what a publish runs, with hash-checked .pyc that never look at file times (so they
# stay valid whatever the copy does to mtimes). Left as source, to keep the image small: pip
# (only a build runs it, ~0.3 s each time) and Pygments' lexers (one is loaded per highlighted
# README code block). pip's Windows launchers are of no use here.
RUN rm -f /opt/venv/lib/python3*/site-packages/pip/_vendor/distlib/*.exe \
 && /opt/venv/bin/python -m compileall -q -f -j0 --invalidation-mode unchecked-hash \
      -x '/site-packages/(pip|pygments/lexers)/' /opt/venv/lib \
 && /opt/venv/bin/python -m compileall -q -f --invalidation-mode unchecked-hash \
      /opt/venv/lib/python3*/site-packages/pygments/lexers/_mapping.py

# git, which VCS-versioned projects need to build (setuptools-scm, hatch-vcs, pdm-backend's scm
# source, poetry-dynamic-versioning): the `git` command alone, from the base's own Debian
# release. Its package would add about 100 MB (perl, curl, 170 helper programs) for the 4 MB a
# build uses: every version lookup is a built-in command of /usr/bin/git (describe, rev-parse,
# status, log, tag, ls-files, archive), which needs only libc, zlib and PCRE2, all in the slim
# base. DEBS: a directory holding the base release's git_*_<arch>.deb, for offline builds.
FROM ${BASE} AS git
ARG DEBS=""
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
WORKDIR /tmp/git
RUN if [ -n "$DEBS" ]; then cp "$DEBS"/git_*_"$(dpkg --print-architecture)".deb .; \
    else apt-get update -qq && apt-get download -qq git && rm -rf /var/lib/apt/lists/*; fi \
 && dpkg-deb --fsys-tarfile git_*.deb | tar -x ./usr/bin/git \
 && ./usr/bin/git --version

FROM ${BASE}
LABEL org.opencontainers.image.title="pypi-publish" \
      org.opencontainers.image.description="Build, check and publish a Python project to PyPI or any index" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder /opt/venv /opt/venv
COPY --from=git /tmp/git/usr/bin/git /usr/bin/git
COPY entrypoint.py /opt/pypi-publish/entrypoint.py
# The runner runs this image as root on a workspace owned by its own user:
# - git refuses a repository owned by another user unless it is a safe.directory; these
#   variables are git's command-line configuration, which git honours for safe.directory, so the
#   image's git (and any a derived image adds) trusts the workspace.
# - nothing may be cached or byte-compiled into the mounted workspace or /github/home as root.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    GIT_CONFIG_COUNT=1 \
    GIT_CONFIG_KEY_0=safe.directory \
    GIT_CONFIG_VALUE_0=*
# -I: a workflow's PYTHONPATH/PYTHONHOME or a stray module in the workspace cannot change the
# action's own code; -B and -u restate, for this process, what -I makes it ignore above.
# The runner supplies the workdir (/github/workspace) and the inputs (INPUT_*); so do the tests.
ENTRYPOINT ["/opt/venv/bin/python", "-I", "-B", "-u", "/opt/pypi-publish/entrypoint.py"]
