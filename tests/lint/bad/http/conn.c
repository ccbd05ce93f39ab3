#include "build-config.h"
#include "conn.h"
#include "mpm/sandbox.h"
  #  include "supervisor.h"
