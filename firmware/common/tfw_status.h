/* Status codes shared by every tinyml-fw device module. */
#ifndef TFW_STATUS_H
#define TFW_STATUS_H

typedef enum {
  TFW_OK = 0,
  TFW_ERR_BAD_ARG = 1,   /* a parameter is out of range */
  TFW_ERR_FRAME = 2,     /* malformed frame (length, CRC, type) */
  TFW_ERR_SEQUENCE = 3,  /* chunk offset or sequence out of order */
  TFW_ERR_MODEL = 4,     /* the model failed to run */
  TFW_ERR_UNKNOWN_TYPE = 5, /* a message type the device does not know */
} TfwStatus;

#endif /* TFW_STATUS_H */
