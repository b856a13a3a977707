#ifndef QOBJECT_ALL_H
#define QOBJECT_ALL_H
#include "qobject/qobject.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qscalar.h"
#include "qobject/qjson.h"
#endif
