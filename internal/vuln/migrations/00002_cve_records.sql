-- +goose Up
-- Decision points from CVE JSON 5 records (CISA ADP "Vulnrichment" SSVC),
-- shared by every tenant: rows carry tenant '*'.
CREATE TABLE vuln_cve (
	tenant           TEXT NOT NULL,
	cve              TEXT NOT NULL,
	exploitation     TEXT NOT NULL DEFAULT '',
	automatable      TEXT NOT NULL DEFAULT '',
	technical_impact TEXT NOT NULL DEFAULT '',
	cvss3_vector     TEXT NOT NULL DEFAULT '',
	cvss4_vector     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, cve)
);

-- +goose Down
DROP TABLE vuln_cve;
