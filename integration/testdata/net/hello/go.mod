module nethello

go 1.26
