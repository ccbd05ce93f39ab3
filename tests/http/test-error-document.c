/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
Test(error_document, placeholder) {}
