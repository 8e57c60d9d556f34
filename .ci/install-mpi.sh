#!/usr/bin/env bash
# Installs Debian's Open MPI (mpirun, headers, libraries) so that npm ci builds the MPI ring rank
# executable (native/distributed) and test/distributed runs real rings (issue 19); iproute2 for
# the veth-namespace link test. Never fails the build: without MPI those tests skip with a reason.
set -u
if command -v mpirun >/dev/null 2>&1 && [ -e /usr/include/x86_64-linux-gnu/openmpi/mpi.h -o -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ]; then
  echo "install-mpi: $(mpirun --version 2>/dev/null | head -1) present"
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" install-mpi "distributed ring tests will be skipped" openmpi-bin libopenmpi-dev iproute2 \
  && echo "install-mpi: $(mpirun --version 2>/dev/null | head -1)"
exit 0
