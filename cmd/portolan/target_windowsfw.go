// The file is not target_windows.go: that name would build it on Windows only (GOOS suffix).
package main

import _ "github.com/portolan/portolan/target/windows"
