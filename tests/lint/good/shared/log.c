#include "build-config.h"
#include "log.h"
#include "shared/log.h"
