module netstealth

go 1.26

require github.com/stealthrocket/net v0.2.1
