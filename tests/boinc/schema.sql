-- mwkit test schema: the BOINC server tables mwkit reads and writes.
--
-- Written for mwkit's tests (tests/support/private_mariadb.*, tests/boinc/*) from
-- BOINC's documented schema: the column names, types, NOT NULL-ness, defaults,
-- unique keys and index names were looked up in BOINC's db/schema.sql and
-- db/constraints.sql, and checked against the statements BOINC's C++ DB layer
-- sends (the db_print / db_print_values / db_parse functions of db/boinc_db.cpp).
-- It is not a copy of BOINC's files: only the tables mwkit touches are here,
-- and indexes are declared inline.
--
-- Versions matched:
--   * Debian bookworm's libsched 7.20.5 (libboinc-app-dev 7.20.5+dfsg-1.1), whose
--     INSERT/UPDATE statements tests/boinc/schema_test.cpp runs against this file;
--   * BOINC master as described in /work/shared/boinc-reference.md (8.3 era),
--     whose rows were captured from a real server (shared/real-boinc-samples).
--   Where the two differ this file holds the union, so statements of both work:
--     - host.misc (master only) has a default, so 7.20.5's INSERT can omit it;
--     - team.joinable and team.mod_time (master only) have defaults;
--     - user_submit.max_jobs_in_progress: master declares it NOT NULL without
--       a default, but 7.20.5 does not write it, so here it defaults to 0.
--
-- Rules that BOINC's C++ code depends on (do not "improve" them away):
--   * Column ORDER matters. BOINC reads `select *` rows by position (db_parse)
--     and bulk-inserts workunits and results with positional
--     `insert into T values (...)` (db_print_values). workunit and result must
--     therefore have exactly BOINC's columns in BOINC's order, nothing extra.
--   * Most columns are NOT NULL without a default: under the server's strict
--     sql_mode an INSERT has to name every one of them, just like on a real
--     project.
--   * The feeder forces the index `ind_res_st` by name; keep index names.
--   * Times are 32-bit INT epoch seconds, except batch's and job_file's
--     (DOUBLE). Text blobs hold at most 64 KiB (app_version.xml_doc: MEDIUMBLOB).

-- ---------------------------------------------------------------------------
-- Platforms, applications, application versions
-- ---------------------------------------------------------------------------

CREATE TABLE platform (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  name                      VARCHAR(191)  NOT NULL,
  user_friendly_name        VARCHAR(254)  NOT NULL,
  deprecated                TINYINT       NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY name (name)
) ENGINE = InnoDB;

CREATE TABLE app (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  name                      VARCHAR(191)  NOT NULL,
  min_version               INT           NOT NULL DEFAULT 0,
  deprecated                SMALLINT      NOT NULL DEFAULT 0,
  user_friendly_name        VARCHAR(254)  NOT NULL,
  homogeneous_redundancy    SMALLINT      NOT NULL DEFAULT 0,
  weight                    DOUBLE        NOT NULL DEFAULT 1,
  beta                      SMALLINT      NOT NULL DEFAULT 0,
  target_nresults           SMALLINT      NOT NULL DEFAULT 0,
  min_avg_pfc               DOUBLE        NOT NULL DEFAULT 1,
  host_scale_check          TINYINT       NOT NULL DEFAULT 0,
  homogeneous_app_version   TINYINT       NOT NULL DEFAULT 0,
  non_cpu_intensive         TINYINT       NOT NULL DEFAULT 0,
  locality_scheduling       INT           NOT NULL DEFAULT 0,
  n_size_classes            SMALLINT      NOT NULL DEFAULT 0,
  fraction_done_exact       TINYINT       NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY name (name)
) ENGINE = InnoDB;

CREATE TABLE app_version (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  appid                     INT           NOT NULL,
  version_num               INT           NOT NULL,
  platformid                INT           NOT NULL,
  xml_doc                   MEDIUMBLOB,
  min_core_version          INT           NOT NULL DEFAULT 0,
  max_core_version          INT           NOT NULL DEFAULT 0,
  deprecated                TINYINT       NOT NULL DEFAULT 0,
  plan_class                VARCHAR(128)  NOT NULL DEFAULT '',
  pfc_n                     DOUBLE        NOT NULL DEFAULT 0,
  pfc_avg                   DOUBLE        NOT NULL DEFAULT 0,
  pfc_scale                 DOUBLE        NOT NULL DEFAULT 0,
  expavg_credit             DOUBLE        NOT NULL DEFAULT 0,
  expavg_time               DOUBLE        NOT NULL DEFAULT 0,
  beta                      TINYINT       NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  -- one version per (app, platform, number, plan class)
  UNIQUE KEY apvp (appid, platformid, version_num, plan_class)
) ENGINE = InnoDB;

-- ---------------------------------------------------------------------------
-- Volunteers and submitters: user, team, host (a crediting validator updates
-- all three), per-host app-version statistics
-- ---------------------------------------------------------------------------

CREATE TABLE user (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  email_addr                VARCHAR(191)  NOT NULL,
  name                      VARCHAR(191),
  authenticator             VARCHAR(191),          -- the remote-submission credential
  country                   VARCHAR(254),
  postal_code               VARCHAR(254),
  total_credit              DOUBLE        NOT NULL,
  expavg_credit             DOUBLE        NOT NULL,
  expavg_time               DOUBLE        NOT NULL,
  global_prefs              BLOB,
  project_prefs             BLOB,
  teamid                    INT           NOT NULL,
  venue                     VARCHAR(254)  NOT NULL,
  url                       VARCHAR(254),
  send_email                SMALLINT      NOT NULL,
  show_hosts                SMALLINT      NOT NULL,
  posts                     SMALLINT      NOT NULL,
  seti_id                   INT           NOT NULL,  -- reused: "run my jobs on my hosts only"
  seti_nresults             INT           NOT NULL,
  seti_last_result_time     INT           NOT NULL,
  seti_total_cpu            DOUBLE        NOT NULL,
  signature                 VARCHAR(254),
  has_profile               SMALLINT      NOT NULL,
  cross_project_id          VARCHAR(254)  NOT NULL,
  passwd_hash               VARCHAR(254)  NOT NULL,
  email_validated           SMALLINT      NOT NULL,
  donated                   SMALLINT      NOT NULL,
  login_token               CHAR(32)      NOT NULL DEFAULT '',
  login_token_time          DOUBLE        NOT NULL DEFAULT 0,
  previous_email_addr       VARCHAR(254)  NOT NULL DEFAULT '',
  email_addr_change_time    DOUBLE        NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY email_addr (email_addr),
  UNIQUE KEY authenticator (authenticator),
  UNIQUE KEY name (name),
  KEY ind_tid (teamid)
) ENGINE = InnoDB;

CREATE TABLE team (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  userid                    INT           NOT NULL,
  name                      VARCHAR(191)  NOT NULL,
  name_lc                   VARCHAR(254),
  url                       VARCHAR(254),
  type                      INT           NOT NULL,
  name_html                 VARCHAR(254),
  description               TEXT,
  nusers                    INT           NOT NULL,
  country                   VARCHAR(254),
  total_credit              DOUBLE        NOT NULL DEFAULT 0,
  expavg_credit             DOUBLE        NOT NULL DEFAULT 0,
  expavg_time               DOUBLE        NOT NULL,
  seti_id                   INT           NOT NULL DEFAULT 0,
  ping_user                 INT           NOT NULL DEFAULT 0,
  ping_time                 INT UNSIGNED  NOT NULL DEFAULT 0,
  joinable                  TINYINT       NOT NULL DEFAULT 1,   -- master only
  mod_time                  TIMESTAMP     DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY name (name),
  KEY team_userid (userid)
) ENGINE = InnoDB;

CREATE TABLE host (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  userid                    INT           NOT NULL,
  rpc_seqno                 INT           NOT NULL,
  rpc_time                  INT           NOT NULL,
  total_credit              DOUBLE        NOT NULL,
  expavg_credit             DOUBLE        NOT NULL,
  expavg_time               DOUBLE        NOT NULL,
  timezone                  INT           NOT NULL,
  domain_name               VARCHAR(254),
  serialnum                 VARCHAR(254),
  last_ip_addr              VARCHAR(254),
  nsame_ip_addr             INT           NOT NULL,
  on_frac                   DOUBLE        NOT NULL,
  connected_frac            DOUBLE        NOT NULL,
  active_frac               DOUBLE        NOT NULL,
  cpu_efficiency            DOUBLE        NOT NULL,
  duration_correction_factor DOUBLE       NOT NULL,
  p_ncpus                   INT           NOT NULL,
  p_vendor                  VARCHAR(254),
  p_model                   VARCHAR(254),
  p_fpops                   DOUBLE        NOT NULL,
  p_iops                    DOUBLE        NOT NULL,
  p_membw                   DOUBLE        NOT NULL,
  os_name                   VARCHAR(254),
  os_version                VARCHAR(254),
  m_nbytes                  DOUBLE        NOT NULL,
  m_cache                   DOUBLE        NOT NULL,
  m_swap                    DOUBLE        NOT NULL,
  d_total                   DOUBLE        NOT NULL,
  d_free                    DOUBLE        NOT NULL,
  d_boinc_used_total        DOUBLE        NOT NULL,
  d_boinc_used_project      DOUBLE        NOT NULL,
  d_boinc_max               DOUBLE        NOT NULL,
  n_bwup                    DOUBLE        NOT NULL,
  n_bwdown                  DOUBLE        NOT NULL,
  credit_per_cpu_sec        DOUBLE        NOT NULL,
  venue                     VARCHAR(254)  NOT NULL,
  nresults_today            INT           NOT NULL,
  avg_turnaround            DOUBLE        NOT NULL,
  host_cpid                 VARCHAR(254),
  external_ip_addr          VARCHAR(254),
  max_results_day           INT           NOT NULL,
  error_rate                DOUBLE        NOT NULL DEFAULT 0,
  product_name              VARCHAR(254)  NOT NULL,
  gpu_active_frac           DOUBLE        NOT NULL,
  p_ngpus                   INT           NOT NULL,
  p_gpu_fpops               DOUBLE        NOT NULL,
  misc                      TEXT          NOT NULL DEFAULT '',  -- master only (JSON)
  PRIMARY KEY (id),
  KEY host_userid_cpid (userid, host_cpid)
) ENGINE = InnoDB;

CREATE TABLE host_app_version (
  host_id                   INT           NOT NULL,
  app_version_id            INT           NOT NULL,
  pfc_n                     DOUBLE        NOT NULL,
  pfc_avg                   DOUBLE        NOT NULL,
  et_n                      DOUBLE        NOT NULL,
  et_avg                    DOUBLE        NOT NULL,
  et_var                    DOUBLE        NOT NULL,
  et_q                      DOUBLE        NOT NULL,
  max_jobs_per_day          INT           NOT NULL,
  n_jobs_today              INT           NOT NULL,
  turnaround_n              DOUBLE        NOT NULL,
  turnaround_avg            DOUBLE        NOT NULL,
  turnaround_var            DOUBLE        NOT NULL,
  turnaround_q              DOUBLE        NOT NULL,
  consecutive_valid         INT           NOT NULL,
  UNIQUE KEY hap (host_id, app_version_id)
) ENGINE = InnoDB;

-- Per-app credit, kept by the validator when config.xml sets <credit_by_app>.
CREATE TABLE credit_user (
  userid                    INT           NOT NULL,
  appid                     INT           NOT NULL,
  njobs                     INT           NOT NULL,
  total                     DOUBLE        NOT NULL,
  expavg                    DOUBLE        NOT NULL,
  expavg_time               DOUBLE        NOT NULL,
  credit_type               INT           NOT NULL,
  PRIMARY KEY (userid, appid, credit_type)
) ENGINE = InnoDB;

CREATE TABLE credit_team (
  teamid                    INT           NOT NULL,
  appid                     INT           NOT NULL,
  njobs                     INT           NOT NULL,
  total                     DOUBLE        NOT NULL,
  expavg                    DOUBLE        NOT NULL,
  expavg_time               DOUBLE        NOT NULL,
  credit_type               INT           NOT NULL,
  PRIMARY KEY (teamid, appid, credit_type)
) ENGINE = InnoDB;

-- Who was credited for which job: written by the validator with
-- --update_credited_job (the workunit named by its opaque).
CREATE TABLE credited_job (
  userid                    INT           NOT NULL,
  workunitid                BIGINT        NOT NULL,
  UNIQUE KEY credited_job_user_wu (userid, workunitid),
  KEY credited_job_user (userid),
  KEY credited_job_wu (workunitid)
) ENGINE = InnoDB;

-- ---------------------------------------------------------------------------
-- Jobs: workunit (one job) and result (one replica of it)
-- Exactly BOINC's 35 / 37 columns, in BOINC's order (positional inserts).
-- ---------------------------------------------------------------------------

CREATE TABLE workunit (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  appid                     INT           NOT NULL,
  name                      VARCHAR(191)  NOT NULL,
  xml_doc                   BLOB,
  batch                     INT           NOT NULL,
  rsc_fpops_est             DOUBLE        NOT NULL,
  rsc_fpops_bound           DOUBLE        NOT NULL,
  rsc_memory_bound          DOUBLE        NOT NULL,
  rsc_disk_bound            DOUBLE        NOT NULL,
  need_validate             SMALLINT      NOT NULL,
  canonical_resultid        INT           NOT NULL,
  canonical_credit          DOUBLE        NOT NULL,
  transition_time           INT           NOT NULL,
  delay_bound               INT           NOT NULL,
  error_mask                INT           NOT NULL,
  file_delete_state         INT           NOT NULL,
  assimilate_state          INT           NOT NULL,
  hr_class                  INT           NOT NULL,
  opaque                    DOUBLE        NOT NULL,
  min_quorum                INT           NOT NULL,
  target_nresults           INT           NOT NULL,
  max_error_results         INT           NOT NULL,
  max_total_results         INT           NOT NULL,
  max_success_results       INT           NOT NULL,
  result_template_file      VARCHAR(63)   NOT NULL,  -- relative to the project root
  priority                  INT           NOT NULL,
  mod_time                  TIMESTAMP     DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  rsc_bandwidth_bound       DOUBLE        NOT NULL,
  fileset_id                INT           NOT NULL,
  app_version_id            INT           NOT NULL,
  transitioner_flags        TINYINT       NOT NULL,
  size_class                SMALLINT      NOT NULL DEFAULT -1,
  keywords                  VARCHAR(254)  NOT NULL,
  app_version_num           INT           NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY name (name),
  KEY wu_val (appid, need_validate),          -- validator
  KEY wu_timeout (transition_time),           -- transitioner
  KEY wu_filedel (file_delete_state),         -- file deleter, db_purge
  KEY wu_assim (appid, assimilate_state),     -- assimilator
  KEY wu_batch (batch)                        -- batch queries
) ENGINE = InnoDB;

CREATE TABLE result (
  id                        INT           NOT NULL AUTO_INCREMENT,
  create_time               INT           NOT NULL,
  workunitid                INT           NOT NULL,
  server_state              INT           NOT NULL,
  outcome                   INT           NOT NULL,
  client_state              INT           NOT NULL,
  hostid                    INT           NOT NULL,
  userid                    INT           NOT NULL,
  report_deadline           INT           NOT NULL,
  sent_time                 INT           NOT NULL,
  received_time             INT           NOT NULL,
  name                      VARCHAR(191)  NOT NULL,
  cpu_time                  DOUBLE        NOT NULL,
  xml_doc_in                BLOB,
  xml_doc_out               BLOB,
  stderr_out                BLOB,
  batch                     INT           NOT NULL,
  file_delete_state         INT           NOT NULL,
  validate_state            INT           NOT NULL,
  claimed_credit            DOUBLE        NOT NULL,
  granted_credit            DOUBLE        NOT NULL,
  opaque                    DOUBLE        NOT NULL,
  random                    INT           NOT NULL,
  app_version_num           INT           NOT NULL,
  appid                     INT           NOT NULL,
  exit_status               INT           NOT NULL,
  teamid                    INT           NOT NULL,
  priority                  INT           NOT NULL,
  mod_time                  TIMESTAMP     DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  elapsed_time              DOUBLE        NOT NULL,
  flops_estimate            DOUBLE        NOT NULL,
  app_version_id            INT           NOT NULL,
  runtime_outlier           TINYINT       NOT NULL,
  size_class                SMALLINT      NOT NULL DEFAULT -1,
  peak_working_set_size     DOUBLE        NOT NULL,
  peak_swap_size            DOUBLE        NOT NULL,
  peak_disk_usage           DOUBLE        NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY name (name),                     -- the scheduler finds results by name
  KEY res_wuid (workunitid),                  -- transitioner, validator
  KEY ind_res_st (server_state, priority),    -- feeder (forced by name)
  KEY res_app_state (appid, server_state),    -- unsent counts per app
  KEY res_filedel (file_delete_state),        -- file deleter
  KEY res_userid_id (userid, id DESC),
  KEY res_userid_val (userid, validate_state),
  KEY res_hostid_id (hostid, id DESC),
  KEY res_batch (batch)
) ENGINE = InnoDB;

-- ---------------------------------------------------------------------------
-- Remote job submission: batches, submit permissions, staged files
-- ---------------------------------------------------------------------------

CREATE TABLE batch (
  id                        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id                   INT           NOT NULL,
  create_time               INT           NOT NULL,
  logical_start_time        DOUBLE        NOT NULL,
  logical_end_time          DOUBLE        NOT NULL,
  est_completion_time       DOUBLE        NOT NULL,
  njobs                     INT           NOT NULL,
  fraction_done             DOUBLE        NOT NULL,
  nerror_jobs               INT           NOT NULL,
  state                     INT           NOT NULL,  -- 0 init .. 4 retired
  completion_time           DOUBLE        NOT NULL,
  credit_estimate           DOUBLE        NOT NULL,
  credit_canonical          DOUBLE        NOT NULL,
  credit_total              DOUBLE        NOT NULL,
  name                      VARCHAR(255)  NOT NULL,
  app_id                    INT           NOT NULL,
  project_state             INT           NOT NULL,
  description               VARCHAR(255)  NOT NULL,
  expire_time               DOUBLE        NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB;

CREATE TABLE user_submit (
  user_id                   INT           NOT NULL,
  quota                     DOUBLE        NOT NULL,
  logical_start_time        DOUBLE        NOT NULL,
  submit_all                TINYINT       NOT NULL,  -- may submit to every app
  manage_all                TINYINT       NOT NULL,
  max_jobs_in_progress      INT           NOT NULL DEFAULT 0,  -- default: see header
  PRIMARY KEY (user_id)
) ENGINE = InnoDB;

-- A row grants user_id the right to submit jobs to app_id.
CREATE TABLE user_submit_app (
  user_id                   INT           NOT NULL,
  app_id                    INT           NOT NULL,
  manage                    TINYINT       NOT NULL,
  PRIMARY KEY (user_id, app_id)
) ENGINE = InnoDB;

-- Files staged through job_file.php.
CREATE TABLE job_file (
  id                        INT           NOT NULL AUTO_INCREMENT,
  name                      VARCHAR(191)  NOT NULL,
  create_time               DOUBLE        NOT NULL,
  delete_time               DOUBLE        NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY jf_name (name)
) ENGINE = InnoDB;
