package main

import _ "github.com/portolan/portolan/target/asa"
