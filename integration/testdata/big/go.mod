module big

go 1.26
