package zktest

// ParseProcStatCPU exposes parseProcStatCPU to the external tests.
var ParseProcStatCPU = parseProcStatCPU
