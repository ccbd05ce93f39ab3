#include "log.h"
#include "conn.h"
