module github.com/wacht-soc/wacht/bench

go 1.26.8

require github.com/wacht-soc/wacht v0.0.0

replace github.com/wacht-soc/wacht => ../
