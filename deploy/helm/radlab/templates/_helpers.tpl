{{/*
Names, labels and the pieces every Radlab workload shares.
*/}}

{{/* The chart name, or nameOverride; the app.kubernetes.io/name label. */}}
{{- define "radlab.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every resource name: fullnameOverride, else "<release>-<name>", shortened to the
release name alone when that already contains the chart name (release "radlab" gives "radlab").
*/}}
{{- define "radlab.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "radlab.name" . -}}
{{- $full := ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name) -}}
{{- $full | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's resources. Call with (dict "root" $ "component" "ingestion"). */}}
{{- define "radlab.componentName" -}}
{{- printf "%s-%s" (include "radlab.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "radlab-0.1.0", the helm.sh/chart label. */}}
{{- define "radlab.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The image tag: image.tag, else the appVersion. */}}
{{- define "radlab.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{/*
Labels that pick out a component's pods: name + instance (+ component). Never add a version or
anything else that changes between releases here: a Deployment's selector is immutable, so a
changing selector label makes `helm upgrade` fail.
Call with (dict "root" $ "component" "ingestion"); component may be empty.
*/}}
{{- define "radlab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "radlab.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* All standard labels of a resource. Call with (dict "root" $ "component" "ingestion"). */}}
{{- define "radlab.labels" -}}
{{ include "radlab.selectorLabels" . }}
app.kubernetes.io/version: {{ include "radlab.imageTag" .root | replace "+" "_" | replace ":" "_" | replace "@" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: radlab
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "radlab.chart" .root }}
{{- end -}}

{{/*
The ServiceAccount one component's pods run as: its own (<fullname>-<component>) when serviceAccount.create, else
serviceAccount.name or "default". Call with (dict "root" $ "component" "ingestion").
*/}}
{{- define "radlab.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create -}}
{{- include "radlab.componentName" . -}}
{{- else -}}
{{- .root.Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* A component's own settings ConfigMap (<fullname>-<component>). Call with (dict "root" $ "component" "ingestion"). */}}
{{- define "radlab.serviceConfigMapName" -}}
{{- include "radlab.componentName" . -}}
{{- end -}}

{{/* The ConfigMap with the common RADLAB_* settings. */}}
{{- define "radlab.configMapName" -}}
{{- printf "%s-config" (include "radlab.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret the chart creates from secrets.<name>.value (development only). */}}
{{- define "radlab.devSecretName" -}}
{{- printf "%s-dev" (include "radlab.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The chart's RayCluster; KubeRay names its head Service "<this>-head-svc". */}}
{{- define "radlab.rayClusterName" -}}
{{- printf "%s-ray" (include "radlab.fullname" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* The Service of an in-chart dependency (kafka, minio, postgresql), in the release's namespace. */}}
{{- define "radlab.dependencyHost" -}}
{{- printf "%s.%s.svc" (include "radlab.componentName" .) .root.Release.Namespace -}}
{{- end -}}

{{/* RADLAB_BUS: the chart's Kafka when kafka.enabled, else config.bus. */}}
{{- define "radlab.busUrl" -}}
{{- if .Values.kafka.enabled -}}
{{- printf "kafka://%s:9092" (include "radlab.dependencyHost" (dict "root" . "component" "kafka")) -}}
{{- else -}}
{{- required "config.bus: give the Kafka URL, e.g. kafka://kafka:9092" .Values.config.bus -}}
{{- end -}}
{{- end -}}

{{/* RADLAB_STORE: the chart's MinIO when minio.enabled, else config.store. */}}
{{- define "radlab.storeUrl" -}}
{{- if .Values.minio.enabled -}}
{{- printf "s3://%s:9000" (include "radlab.dependencyHost" (dict "root" . "component" "minio")) -}}
{{- else -}}
{{- required "config.store: give the S3/MinIO URL, e.g. s3://minio:9000" .Values.config.store -}}
{{- end -}}
{{- end -}}

{{/* RADLAB_DB: the chart's PostgreSQL when postgresql.enabled, else config.db. */}}
{{- define "radlab.dbUrl" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "postgresql://radlab@%s:5432/radlab" (include "radlab.dependencyHost" (dict "root" . "component" "postgresql")) -}}
{{- else -}}
{{- required "config.db: give the PostgreSQL URL, e.g. postgresql://radlab@postgresql:5432/radlab" .Values.config.db -}}
{{- end -}}
{{- end -}}

{{/*
The TCP ports a URL's hosts name, as a JSON list, each host's own or `default` when it names none:
kafka://a:9093,b gives [9093, 9092]. Call with (dict "url" "kafka://kafka:9092" "default" 9092).
*/}}
{{- define "radlab.urlPorts" -}}
{{- $hosts := splitList "://" .url | last | splitList "/" | first | splitList "?" | first | splitList "@" | last -}}
{{- $ports := list -}}
{{- range splitList "," $hosts -}}
{{- $port := regexFind ":[0-9]+$" . | trimPrefix ":" | default (toString $.default) -}}
{{- $ports = append $ports (int $port) -}}
{{- end -}}
{{- $ports | uniq | toJson -}}
{{- end -}}

{{/*
When the install Jobs (topics, migrations) run. Before the release's resources (pre-install) when all they need
is there already: external Kafka and PostgreSQL, credentials in existing Secrets. Otherwise after them
(post-install), since the chart's own Kafka, PostgreSQL or dev Secret do not exist before the install; the
services migrate and create topics on start as well, so running beside them is safe. Upgrades always run them
first, so new pods find their tables and topics.
*/}}
{{- define "radlab.jobHooks" -}}
{{- $devSecret := false -}}
{{- range $credential, $spec := .Values.secrets -}}
{{- if $spec.value -}}{{- $devSecret = true -}}{{- end -}}
{{- end -}}
{{- if or .Values.kafka.enabled .Values.postgresql.enabled $devSecret -}}
post-install,pre-upgrade
{{- else -}}
pre-install,pre-upgrade
{{- end -}}
{{- end -}}

{{/* RADLAB_RAY: the chart's RayCluster when enabled, else config.ray (may be empty). */}}
{{- define "radlab.rayUrl" -}}
{{- if .Values.rayCluster.enabled -}}
{{- printf "ray://%s-head-svc.%s.svc:10001" (include "radlab.rayClusterName" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.config.ray -}}
{{- end -}}
{{- end -}}

{{/*
The services radlab can serve, and what each needs beyond the common settings. These are facts
about the code, not deployment choices, so they live here rather than in values.
*/}}
{{- define "radlab.knownServices" -}}
ingestion anonymization annotation workflow interpolation training
{{- end -}}
{{- define "radlab.servicesUsingRay" -}}
training
{{- end -}}
{{- define "radlab.servicesUsingPhiKey" -}}
anonymization
{{- end -}}
{{- define "radlab.servicesUsingAnonKey" -}}
anonymization
{{- end -}}
{{- define "radlab.servicesUsingUploads" -}}
ingestion
{{- end -}}
{{/* The services that consume events: the ones a HorizontalPodAutoscaler may scale out (training only drives Ray). */}}
{{- define "radlab.servicesScaledOut" -}}
ingestion anonymization annotation workflow interpolation
{{- end -}}
{{/* The service with the DICOM entrances (RADLAB_DICOM_*: a C-STORE SCP and STOW-RS). */}}
{{- define "radlab.servicesUsingDicom" -}}
ingestion
{{- end -}}

{{/*
The DICOM entrances a service serves, as a YAML map of port name to number (dicom: C-STORE, dicomweb: STOW-RS);
empty unless it is the DICOM service with dicom.enabled. Fails when enabled without sources or ports, since the
code serves nothing until a calling AE title is bound. Call with (dict "root" $ "name" $name "svc" $svc).
*/}}
{{- define "radlab.dicomPorts" -}}
{{- $dicom := .svc.dicom | default dict -}}
{{- if and (has .name (splitList " " (include "radlab.servicesUsingDicom" .root))) $dicom.enabled -}}
{{- if not $dicom.sources -}}
{{- fail (printf "services.%s.dicom.sources: bind at least one calling AE title to a tenant/dataset_id (e.g. {PACS1: hospital-a/ds-123}), or set dicom.enabled=false; nothing is accepted from an unbound AE title" .name) -}}
{{- end -}}
{{- $ports := dict -}}
{{- range $portName, $setting := dict "dicom" "port" "dicomweb" "dicomwebPort" -}}
{{- $port := get $dicom $setting | int -}}
{{- if or (lt $port 0) (gt $port 65535) -}}
{{- fail (printf "services.%s.dicom.%s must be a TCP port (1 to 65535, or 0 to turn it off), not %v" $.name $setting (get $dicom $setting)) -}}
{{- end -}}
{{- if $port -}}
{{- $_ := set $ports $portName $port -}}
{{- end -}}
{{- end -}}
{{- if not $ports -}}
{{- fail (printf "services.%s.dicom: port and dicomwebPort are both 0; set dicom.enabled=false instead" .name) -}}
{{- end -}}
{{- toYaml $ports -}}
{{- end -}}
{{- end -}}

{{/* The upload settings (config.uploads.<name>) and the variables ingestion reads them from. */}}
{{- define "radlab.uploadEnvNames" -}}
maxBytes: RADLAB_UPLOAD_MAX_BYTES
maxRatio: RADLAB_UPLOAD_MAX_RATIO
maxFiles: RADLAB_UPLOAD_MAX_FILES
ttlSeconds: RADLAB_UPLOAD_TTL_S
maxVoxels: RADLAB_VOLUME_MAX_VOXELS
{{- end -}}
{{/* The upload settings the code reads with int(), so they must not print as floats. */}}
{{- define "radlab.uploadWholeNumbers" -}}
maxBytes maxFiles maxVoxels
{{- end -}}

{{/* The request limits every service reads (config.requests.<name>) and the variables they go into. */}}
{{- define "radlab.requestEnvNames" -}}
maxNameChars: RADLAB_REQUEST_MAX_NAME_CHARS
maxTextChars: RADLAB_REQUEST_MAX_TEXT_CHARS
maxRepeated: RADLAB_REQUEST_MAX_REPEATED
{{- end -}}
{{/* What one view may cost (config.slices.<name>), read by the services that serve slices. */}}
{{- define "radlab.servicesUsingSlices" -}}
ingestion
{{- end -}}
{{- define "radlab.sliceEnvNames" -}}
thumbnailMaxSize: RADLAB_THUMBNAIL_MAX_SIZE
maxPixels: RADLAB_SLICE_MAX_PIXELS
{{- end -}}

{{/* Fails with a message naming the valid services when services.<name> is not one of them. */}}
{{- define "radlab.validateServiceName" -}}
{{- $known := splitList " " (include "radlab.knownServices" .root) -}}
{{- if not (has .name $known) -}}
{{- fail (printf "services.%s: radlab has no service called %q; the services are %s" .name .name (join ", " $known)) -}}
{{- end -}}
{{- end -}}

{{/*
Environment variables the chart sets itself; extraEnv may not set them, so a value never hides
(or leaks) a chart-managed one.
*/}}
{{- define "radlab.managedEnvNames" -}}
RADLAB_BUS RADLAB_STORE RADLAB_DB RADLAB_RAY RADLAB_GRPC_ADDR RADLAB_METRICS_PORT RADLAB_METRICS_HOST RADLAB_LOG_LEVEL RADLAB_TOKEN_KEY RADLAB_TOKEN_PREVIOUS_KEYS RADLAB_TOKEN_MAX_TTL_DAYS RADLAB_PHI_KEY RADLAB_ANON_KEY RADLAB_DB_PASSWORD RADLAB_S3_ACCESS_KEY RADLAB_S3_SECRET_KEY RADLAB_UPLOAD_MAX_BYTES RADLAB_UPLOAD_MAX_RATIO RADLAB_UPLOAD_MAX_FILES RADLAB_UPLOAD_TTL_S RADLAB_VOLUME_MAX_VOXELS RADLAB_REQUEST_MAX_NAME_CHARS RADLAB_REQUEST_MAX_TEXT_CHARS RADLAB_REQUEST_MAX_REPEATED RADLAB_THUMBNAIL_MAX_SIZE RADLAB_SLICE_MAX_PIXELS RADLAB_DICOM_SOURCES RADLAB_DICOM_AE_TITLE RADLAB_DICOM_PORT RADLAB_DICOMWEB_PORT RADLAB_DICOM_QUIET_S RADLAB_HTTP_ADDR RADLAB_GATEWAY_TARGETS
{{- end -}}

{{/* Which credential in values.secrets feeds which variable. */}}
{{- define "radlab.secretEnvNames" -}}
tokenKey: RADLAB_TOKEN_KEY
previousTokenKeys: RADLAB_TOKEN_PREVIOUS_KEYS
phiKey: RADLAB_PHI_KEY
anonKey: RADLAB_ANON_KEY
databasePassword: RADLAB_DB_PASSWORD
objectStoreAccessKey: RADLAB_S3_ACCESS_KEY
objectStoreSecretKey: RADLAB_S3_SECRET_KEY
{{- end -}}

{{/*
One env entry reading a credential from its Secret: the chart's dev Secret when secrets.<cred>.value
is set, else secrets.<cred>.existingSecret. Renders nothing when neither is set, or fails when the
credential is required. Call with (dict "root" $ "credential" "tokenKey" "required" true ["envName" name]); envName
replaces the variable the services read it from (the in-chart MinIO and PostgreSQL read theirs under their own names).
*/}}
{{- define "radlab.secretEnv" -}}
{{- $spec := get .root.Values.secrets .credential -}}
{{- $envName := .envName | default (get (include "radlab.secretEnvNames" .root | fromYaml) .credential) -}}
{{- if $spec.value }}
- name: {{ $envName }}
  valueFrom:
    secretKeyRef:
      name: {{ include "radlab.devSecretName" .root }}
      key: {{ kebabcase .credential }}
{{- else if $spec.existingSecret }}
- name: {{ $envName }}
  valueFrom:
    secretKeyRef:
      name: {{ $spec.existingSecret }}
      key: {{ required (printf "secrets.%s.key: name the entry of Secret %s that holds %s" .credential $spec.existingSecret $envName) $spec.key }}
{{- else if .required }}
{{- fail (printf "secrets.%s: %s is required; set secrets.%s.existingSecret to a Secret holding it (or, for development only, secrets.%s.value)" .credential $envName .credential .credential) }}
{{- end }}
{{- end -}}

{{/*
One env entry read from a ConfigMap: the common one, or the one `configMap` names.
Call with (dict "root" $ "name" "RADLAB_BUS" ["configMap" name]).
*/}}
{{- define "radlab.configEnv" -}}
- name: {{ .name }}
  valueFrom:
    configMapKeyRef:
      name: {{ .configMap | default (include "radlab.configMapName" .root) }}
      key: {{ .name }}
{{- end -}}

{{/*
One service's own settings, as a YAML map of variable to value: its log level, and what only it reads (training:
RADLAB_RAY; ingestion: its upload and slice limits and its DICOM port). Call with (dict "root" $ "name" $n "svc" $svc).
*/}}
{{- define "radlab.serviceSettings" -}}
{{- $root := .root -}}
{{- $settings := dict "RADLAB_LOG_LEVEL" (.svc.logLevel | default $root.Values.config.logLevel) -}}
{{- if and (has .name (splitList " " (include "radlab.servicesUsingRay" $root))) (include "radlab.rayUrl" $root) -}}
{{- $_ := set $settings "RADLAB_RAY" (include "radlab.rayUrl" $root) -}}
{{- end -}}
{{- if has .name (splitList " " (include "radlab.servicesUsingUploads" $root)) -}}
{{- $uploads := $root.Values.config.uploads | default dict -}}
{{- range $setting, $envName := include "radlab.uploadEnvNames" $root | fromYaml -}}
{{- $value := get $uploads $setting -}}
{{- /* A number from a values file is a float64, which prints as 3.4e+10: print whole ones through int64
(the code reads maxBytes and maxFiles with int(), so those are always made whole). */ -}}
{{- $number := float64 $value -}}
{{- $whole := or (has $setting (include "radlab.uploadWholeNumbers" $root | splitList " ")) (eq $number (float64 (int64 $number))) -}}
{{- $text := ternary (int64 $number | toString) (toString $number) $whole -}}
{{- if le (float64 $text) 0.0 -}}
{{- fail (printf "config.uploads.%s (%s) must be a plain number above 0 (no unit), not %v" $setting $envName $value) -}}
{{- end -}}
{{- $_ := set $settings $envName $text -}}
{{- end -}}
{{- end -}}
{{- if has .name (splitList " " (include "radlab.servicesUsingSlices" $root)) -}}
{{- range $setting, $envName := include "radlab.sliceEnvNames" $root | fromYaml -}}
{{- $_ := set $settings $envName (include "radlab.wholeNumber" (dict "group" "slices" "setting" $setting "envName" $envName "value" (get ($root.Values.config.slices | default dict) $setting))) -}}
{{- end -}}
{{- end -}}
{{- if include "radlab.dicomPorts" . -}}
{{- $dicom := .svc.dicom -}}
{{- $bindings := list -}}
{{- range $title, $binding := $dicom.sources -}}
{{- if not (regexMatch "^[^\\s/]+/[^\\s/]+$" (toString $binding)) -}}
{{- fail (printf "services.%s.dicom.sources.%s: %q is not tenant/dataset_id" $.name $title (toString $binding)) -}}
{{- end -}}
{{- $bindings = append $bindings (printf "%s=%s" $title $binding) -}}
{{- end -}}
{{- $_ := set $settings "RADLAB_DICOM_SOURCES" (join " " $bindings) -}}
{{- $_ := set $settings "RADLAB_DICOM_AE_TITLE" (toString $dicom.aeTitle) -}}
{{- $_ := set $settings "RADLAB_DICOM_PORT" ($dicom.port | int | toString) -}}
{{- $_ := set $settings "RADLAB_DICOMWEB_PORT" ($dicom.dicomwebPort | int | toString) -}}
{{- $_ := set $settings "RADLAB_DICOM_QUIET_S" (include "radlab.positiveNumber" (dict "setting" (printf "services.%s.dicom.quietSeconds" .name) "value" $dicom.quietSeconds)) -}}
{{- end -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* A number above 0 as the code reads it (no float notation). Call with (dict "setting" "a.b" "value" v). */}}
{{- define "radlab.positiveNumber" -}}
{{- $number := float64 .value -}}
{{- if le $number 0.0 -}}
{{- fail (printf "%s must be a number above 0, not %v" .setting .value) -}}
{{- end -}}
{{- ternary (int64 $number | toString) (toString $number) (eq $number (float64 (int64 $number))) -}}
{{- end -}}

{{/*
A limit as the whole number the code reads, failing with the setting's name when it is not one above 0.
Call with (dict "group" "requests" "setting" "maxRepeated" "envName" "RADLAB_REQUEST_MAX_REPEATED" "value" v).
*/}}
{{- define "radlab.wholeNumber" -}}
{{- $number := float64 .value -}}
{{- if or (le $number 0.0) (ne $number (float64 (int64 $number))) -}}
{{- fail (printf "config.%s.%s (%s) must be a whole number above 0, not %v" .group .setting .envName .value) -}}
{{- end -}}
{{- int64 $number | toString -}}
{{- end -}}

{{/*
The whole env list of one service's container. Call with (dict "root" $ "name" $svcName "svc" $svc).
*/}}
{{- define "radlab.serviceEnv" -}}
{{- $root := .root -}}
{{- range list "RADLAB_BUS" "RADLAB_STORE" "RADLAB_DB" "RADLAB_GRPC_ADDR" "RADLAB_METRICS_PORT" "RADLAB_METRICS_HOST" "RADLAB_TOKEN_MAX_TTL_DAYS" }}
{{ include "radlab.configEnv" (dict "root" $root "name" .) }}
{{- end }}
{{- range $setting, $envName := include "radlab.requestEnvNames" $root | fromYaml }}
{{ include "radlab.configEnv" (dict "root" $root "name" $envName) }}
{{- end }}
{{- $own := include "radlab.serviceConfigMapName" (dict "root" $root "component" .name) }}
{{- range $envName := include "radlab.serviceSettings" (dict "root" $root "name" .name "svc" .svc) | fromYaml | keys | sortAlpha }}
{{ include "radlab.configEnv" (dict "root" $root "name" $envName "configMap" $own) }}
{{- end }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "tokenKey" "required" true) }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "previousTokenKeys" "required" false) }}
{{- if has .name (splitList " " (include "radlab.servicesUsingPhiKey" $root)) }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "phiKey" "required" true) }}
{{- end }}
{{- if has .name (splitList " " (include "radlab.servicesUsingAnonKey" $root)) }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "anonKey" "required" true) }}
{{- end }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "databasePassword" "required" false) }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "objectStoreAccessKey" "required" false) }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "objectStoreSecretKey" "required" false) }}
{{- include "radlab.extraEnv" (dict "root" $root "own" .svc.extraEnv) }}
{{- end -}}

{{/*
The HTTP gateway's env list: its own settings, the metrics and token settings every pod shares, the token keys (it
only shows a caller who their token names; the services verify every call themselves) and extraEnv.
Call with (dict "root" $ "gateway" .Values.gateway).
*/}}
{{- define "radlab.gatewayEnv" -}}
{{- $root := .root -}}
{{- range list "RADLAB_METRICS_PORT" "RADLAB_METRICS_HOST" "RADLAB_TOKEN_MAX_TTL_DAYS" }}
{{ include "radlab.configEnv" (dict "root" $root "name" .) }}
{{- end }}
{{- $own := include "radlab.serviceConfigMapName" (dict "root" $root "component" "gateway") }}
{{- range list "RADLAB_GATEWAY_TARGETS" "RADLAB_HTTP_ADDR" "RADLAB_LOG_LEVEL" }}
{{ include "radlab.configEnv" (dict "root" $root "name" . "configMap" $own) }}
{{- end }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "tokenKey" "required" true) }}
{{- include "radlab.secretEnv" (dict "root" $root "credential" "previousTokenKeys" "required" false) }}
{{- include "radlab.extraEnv" (dict "root" $root "own" .gateway.extraEnv) }}
{{- end -}}

{{/*
extraEnv entries, the global ones merged with a workload's own (`own` wins on a name); a variable the chart sets
itself fails the render. Call with (dict "root" $ "own" $svc.extraEnv).
*/}}
{{- define "radlab.extraEnv" -}}
{{- $root := .root -}}
{{- $managed := splitList " " (include "radlab.managedEnvNames" $root) -}}
{{- $extra := merge (deepCopy (.own | default dict)) ($root.Values.extraEnv | default dict) -}}
{{- range $envName, $envValue := $extra }}
{{- if has $envName $managed }}
{{- fail (printf "extraEnv.%s: the chart sets %s itself; use config.* or secrets.* instead" $envName $envName) }}
{{- end }}
- name: {{ $envName }}
{{- if kindIs "map" $envValue }}
  valueFrom:
    {{- toYaml $envValue | nindent 4 }}
{{- else }}
  value: {{ $envValue | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Container resources with the GPU added to limits when gpu.enabled. Call with a map holding
"resources" and optionally "gpu" (a service or a Ray worker group).
*/}}
{{- define "radlab.resources" -}}
{{- $resources := deepCopy (.resources | default dict) -}}
{{- if and .gpu .gpu.enabled -}}
{{- $limits := get $resources "limits" | default dict -}}
{{- $_ := set $limits .gpu.resourceName (.gpu.count | int) -}}
{{- $_ := set $resources "limits" $limits -}}
{{- end -}}
{{- with $resources -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/*
A service's image: services.<name>.image.repository, else "<image.repository>-<name>", at services.<name>.image.tag,
else image.tag, else the appVersion. Call with (dict "root" $ "name" "ingestion").
*/}}
{{- define "radlab.serviceImage" -}}
{{- $own := (get .root.Values.services .name | default dict).image | default dict -}}
{{- $repository := $own.repository | default (printf "%s-%s" .root.Values.image.repository .name) -}}
{{- printf "%s:%s" $repository ($own.tag | default (include "radlab.imageTag" .root) | toString) -}}
{{- end -}}

{{/*
The pod-level settings every Radlab pod shares: its ServiceAccount (no API token), pull secrets, security
context. Call with (dict "root" $ "component" "ingestion").
*/}}
{{- define "radlab.podIdentity" -}}
serviceAccountName: {{ include "radlab.serviceAccountName" . }}
automountServiceAccountToken: {{ .root.Values.serviceAccount.automountServiceAccountToken }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with .root.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}


{{/*
One NetworkPolicy egress rule to a dependency on the ports its URL names: to the chart's own pods of `component`
when it runs in the release (`inChart`), else to `peers` (any address when empty).
Call with (dict "root" $ "url" u "default" 9092 "inChart" bool "component" "kafka" "peers" list).
*/}}
{{- define "radlab.egressRule" -}}
- ports:
    {{- range include "radlab.urlPorts" (dict "url" .url "default" .default) | fromJsonArray }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- if .inChart }}
  to:
    - podSelector:
        matchLabels:
          {{- include "radlab.selectorLabels" (dict "root" .root "component" .component) | nindent 10 }}
  {{- else if .peers }}
  to:
    {{- toYaml .peers | nindent 4 }}
  {{- end }}
{{- end -}}
