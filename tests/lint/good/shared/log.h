/* fixture */
#pragma once
