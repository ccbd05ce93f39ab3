#include <stdio.h>
#include "conn.h"
#include "http/conn.h"
#include "shared/log.h"
#include "../shared/log.h"
