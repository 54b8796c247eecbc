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

{{/* The ServiceAccount the pods run as. */}}
{{- define "radlab.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "radlab.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
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
RADLAB_BUS RADLAB_STORE RADLAB_DB RADLAB_RAY RADLAB_GRPC_ADDR RADLAB_METRICS_PORT RADLAB_METRICS_HOST RADLAB_LOG_LEVEL RADLAB_TOKEN_KEY RADLAB_TOKEN_PREVIOUS_KEYS RADLAB_TOKEN_MAX_TTL_DAYS RADLAB_PHI_KEY RADLAB_ANON_KEY RADLAB_DB_PASSWORD RADLAB_S3_ACCESS_KEY RADLAB_S3_SECRET_KEY RADLAB_UPLOAD_MAX_BYTES RADLAB_UPLOAD_MAX_RATIO RADLAB_UPLOAD_MAX_FILES RADLAB_UPLOAD_TTL_S RADLAB_VOLUME_MAX_VOXELS RADLAB_REQUEST_MAX_NAME_CHARS RADLAB_REQUEST_MAX_TEXT_CHARS RADLAB_REQUEST_MAX_REPEATED RADLAB_THUMBNAIL_MAX_SIZE RADLAB_SLICE_MAX_PIXELS
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
credential is required. Call with (dict "root" $ "credential" "tokenKey" "required" true).
*/}}
{{- define "radlab.secretEnv" -}}
{{- $spec := get .root.Values.secrets .credential -}}
{{- $envName := get (include "radlab.secretEnvNames" .root | fromYaml) .credential -}}
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

{{/* One env entry read from the chart's ConfigMap. Call with (dict "root" $ "name" "RADLAB_BUS"). */}}
{{- define "radlab.configEnv" -}}
- name: {{ .name }}
  valueFrom:
    configMapKeyRef:
      name: {{ include "radlab.configMapName" .root }}
      key: {{ .name }}
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
{{- if .svc.logLevel }}
- name: RADLAB_LOG_LEVEL
  value: {{ .svc.logLevel | quote }}
{{- else }}
{{ include "radlab.configEnv" (dict "root" $root "name" "RADLAB_LOG_LEVEL") }}
{{- end }}
{{- if and (has .name (splitList " " (include "radlab.servicesUsingRay" $root))) (include "radlab.rayUrl" $root) }}
{{ include "radlab.configEnv" (dict "root" $root "name" "RADLAB_RAY") }}
{{- end }}
{{- if has .name (splitList " " (include "radlab.servicesUsingUploads" $root)) }}
{{- range $setting, $envName := include "radlab.uploadEnvNames" $root | fromYaml }}
{{ include "radlab.configEnv" (dict "root" $root "name" $envName) }}
{{- end }}
{{- end }}
{{- if has .name (splitList " " (include "radlab.servicesUsingSlices" $root)) }}
{{- range $setting, $envName := include "radlab.sliceEnvNames" $root | fromYaml }}
{{ include "radlab.configEnv" (dict "root" $root "name" $envName) }}
{{- end }}
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
{{- $managed := splitList " " (include "radlab.managedEnvNames" $root) -}}
{{- $extra := merge (deepCopy (.svc.extraEnv | default dict)) ($root.Values.extraEnv | default dict) -}}
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

{{/* The Radlab image reference. */}}
{{- define "radlab.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "radlab.imageTag" .) -}}
{{- end -}}
