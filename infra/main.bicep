// Retail AI Advisor on Azure: a Linux Consumption function app running the `handler` custom handler with a
// system-assigned identity; a storage account (identity-only) holding the host's state and queues, the `videos` and
// `exports` containers and the deployed packages; an Event Grid system topic sending BlobCreated events for uploaded videos to VideoUploaded;
// a Key Vault (RBAC, purge protection) read by the app's identity; Application Insights on a Log Analytics workspace.
// Deploy step by step: infra/README.md.

targetScope = 'resourceGroup'

@description('Short name used in every resource name: 3-11 lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param name string

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Blob name of the function app package in the `deployments` container (infra/package.sh azure output, uploaded). Empty on the first deployment, before any package exists.')
param packageBlobName string = ''

@description('Create the Event Grid subscription to VideoUploaded. The function must exist, so set it once a package is deployed.')
param subscribeVideoUploads bool = false

@description('Supabase project URL, e.g. https://abc.supabase.co (the token issuer and JWKS derive from it).')
param supabaseUrl string

@description('NCRONTAB schedule of the SyncStores timer.')
param syncStoresSchedule string = '0 */5 * * * *'

@description('NCRONTAB schedule of the RefreshAdvice timer.')
param refreshAdviceSchedule string = '0 0 * * * *'

@description('NCRONTAB schedule of the SendAlerts timer (urgent alerts and the weekly digest).')
param sendAlertsSchedule string = '0 */5 * * * *'

@description('NCRONTAB schedule of the SweepExports timer (queues lost exports again, deletes expired files).')
param sweepExportsSchedule string = '0 */5 * * * *'

@description('Origins allowed to call the API from a browser, comma-separated (empty: none).')
param corsAllowedOrigins string = ''

@description('Requests per organization per minute on one instance (0: no limit).')
param rateLimitPerMinute int = 600

@description('Apply pending migrations when an instance starts (AUTO_MIGRATE). Only for an app held to one instance; otherwise run `handler migrate` before switching traffic.')
param autoMigrate bool = false

@description('Azure OpenAI endpoint, e.g. https://<resource>.openai.azure.com (empty: the rules engine writes the advice text). The app calls it with its identity: grant it Cognitive Services OpenAI User on that resource.')
param azureOpenAiEndpoint string = ''

@description('Azure OpenAI chat deployment name (required with azureOpenAiEndpoint).')
param azureOpenAiDeployment string = ''

@description('Azure Communication Services endpoint for e-mail alerts, e.g. https://<resource>.communication.azure.com (empty: e-mail channels are refused; Slack and Teams need nothing). The app sends with its identity: grant it a role on that resource that allows sending e-mail.')
param acsEmailEndpoint string = ''

@description('Verified sender address for e-mail alerts, e.g. DoNotReply@<your verified domain> (required with acsEmailEndpoint).')
param acsEmailSender string = ''

@description('The app\'s public base URL (APP_URL), e.g. a custom domain; empty: the function app\'s own https://<app>.azurewebsites.net.')
param appUrl string = ''

@description('The Shopify app\'s client id (SHOPIFY_CLIENT_ID; its secret is the vault secret shopify-client-secret). Empty: Shopify installs answer 503.')
param shopifyClientId string = ''

@description('Access scopes a Shopify install asks for (SHOPIFY_SCOPES), comma-separated.')
param shopifyScopes string = 'read_products,read_orders,read_inventory'

@description('What a WooCommerce key approval asks for (WOOCOMMERCE_KEY_SCOPE): read, or read_write so the app can create its webhooks on the site.')
@allowed(['read', 'read_write'])
param woocommerceKeyScope string = 'read'

// The VideoUploaded binding is the one source of truth for where videos land: `videos/{tenant}/{video}`.
var videoBinding = loadJsonContent('../functions/azure/VideoUploaded/function.json').bindings[0]
var videoContainer = split(videoBinding.path, '/')[0]
var videoSubjectPrefix = '/blobServices/default/containers/${videoContainer}/blobs/'

var suffix = uniqueString(resourceGroup().id, name)
var storageName = toLower(take('${name}${suffix}', 24))
var vaultName = take('kv-${name}-${suffix}', 24)
var appName = 'func-${name}-${suffix}'
var deploymentsContainer = 'deployments'
// Events Event Grid could not deliver after every retry land here instead of being dropped.
var deadLetterContainer = 'eventgrid-deadletter'
// CSV exports (`<organization>/<export>.csv`); SweepExports deletes each a day after it is written, and a lifecycle
// rule deletes whatever it missed a day later.
var exportsContainer = 'exports'

// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}-${suffix}'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Telemetry is accepted from Entra-authenticated senders only (the app's identity, below).
    DisableLocalAuth: true
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: a Consumption plan has no virtual network or fixed outbound address to allow; access is Entra-only (shared keys off)
  // checkov:skip=CKV_AZURE_59: same reason: the app and the Functions host reach the account over its public endpoint
  // checkov:skip=CKV_AZURE_43: the name is computed (lower-case letters and digits, at most 24) and checkov cannot evaluate it
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_GRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Identity only: the host (AzureWebJobsStorage__*), the app and deployments all use Entra tokens.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      // A Consumption plan has no fixed outbound address or virtual network to allow-list.
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
    // The dashboard (served by the app at /api/app/) uploads videos straight to their write-only SAS URL: the
    // browser's cross-origin PUT needs this rule, for the app's own origin only.
    cors: {
      corsRules: [
        {
          allowedOrigins: [ 'https://${appName}.azurewebsites.net' ]
          allowedMethods: [ 'PUT', 'OPTIONS' ]
          allowedHeaders: [ 'content-type', 'x-ms-blob-type', 'x-ms-version', 'x-ms-date' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 600
        }
      ]
    }
  }
}

resource videos 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: videoContainer
  properties: { publicAccess: 'None' }
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentsContainer
  properties: { publicAccess: 'None' }
}

resource exports 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: exportsContainer
  properties: { publicAccess: 'None' }
}

resource exportsLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-old-exports'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: [ 'blockBlob' ], prefixMatch: [ '${exportsContainer}/' ] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: 2 } } }
          }
        }
      ]
    }
  }
}

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainer
  properties: { publicAccess: 'None' }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {}
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Consumption-plan apps have no fixed address and are not trusted services; access is RBAC-only
  // checkov:skip=CKV_AZURE_189: same reason: the app reads the vault over its public endpoint with its identity
  name: vaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      // Consumption-plan apps are not trusted services and have no fixed address: the vault is guarded by RBAC.
      defaultAction: 'Allow'
    }
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225: the Consumption (Y1) plan does not offer zone redundancy
  name: 'plan-${name}-${suffix}'
  location: location
  kind: 'functionapp'
  sku: { name: 'Y1', tier: 'Dynamic' }
  properties: { reserved: true }
}

var vaultReference = 'VaultName=${vault.name}'

resource app 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_222: this is the public API; callers authenticate with bearer tokens
  // checkov:skip=CKV_AZURE_17: clients are browsers and merchant tools with bearer tokens, not client certificates
  // checkov:skip=CKV_AZURE_212: a Consumption plan scales from zero; there are no standing instances to set
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      healthCheckPath: '/api/health'
      // CORS is the app's own allow-list (CORS_ALLOWED_ORIGINS); the platform's stays empty so it never answers.
      cors: { allowedOrigins: [] }
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }
        // The host's own storage, through the app's identity.
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'WEBSITE_RUN_FROM_PACKAGE', value: empty(packageBlobName) ? '' : '${storage.properties.primaryEndpoints.blob}${deploymentsContainer}/${packageBlobName}' }
        { name: 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID', value: 'SystemAssigned' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        // Secrets: Key Vault references, resolved by the platform with the app's identity.
        { name: 'DATABASE_URL', value: '@Microsoft.KeyVault(${vaultReference};SecretName=database-url)' }
        { name: 'SHOPIFY_CLIENT_SECRET', value: '@Microsoft.KeyVault(${vaultReference};SecretName=shopify-client-secret)' }
        // The legacy JWT secret is read by the app itself, and re-read every KEY_VAULT_CACHE_SECS: a rotation
        // applies without a restart (a platform reference is refreshed only every 24 hours).
        { name: 'KEY_VAULT_URL', value: vault.properties.vaultUri }
        { name: 'SECRETS_FROM_VAULT', value: 'SUPABASE_JWT_SECRET' }
        { name: 'SUPABASE_URL', value: supabaseUrl }
        { name: 'SYNC_STORES_SCHEDULE', value: syncStoresSchedule }
        { name: 'REFRESH_ADVICE_SCHEDULE', value: refreshAdviceSchedule }
        { name: 'SEND_ALERTS_SCHEDULE', value: sendAlertsSchedule }
        { name: 'SWEEP_EXPORTS_SCHEDULE', value: sweepExportsSchedule }
        { name: 'VIDEO_STORAGE_ACCOUNT_URL', value: storage.properties.primaryEndpoints.blob }
        { name: 'CORS_ALLOWED_ORIGINS', value: corsAllowedOrigins }
        // Links the app hands out start here, never from a request's Host header.
        { name: 'APP_URL', value: empty(appUrl) ? 'https://${appName}.azurewebsites.net' : appUrl }
        // Installs: Shopify's OAuth redirect and WooCommerce's key callback come back below APP_URL.
        { name: 'SHOPIFY_CLIENT_ID', value: shopifyClientId }
        { name: 'SHOPIFY_SCOPES', value: shopifyScopes }
        { name: 'WOOCOMMERCE_KEY_SCOPE', value: woocommerceKeyScope }
        { name: 'RATE_LIMIT_PER_MINUTE', value: string(rateLimitPerMinute) }
        { name: 'TRUSTED_PROXY_HOPS', value: '1' }
        { name: 'LOG_FORMAT', value: 'json' }
        { name: 'AUTO_MIGRATE', value: autoMigrate ? 'true' : 'false' }
        { name: 'AZURE_OPENAI_ENDPOINT', value: azureOpenAiEndpoint }
        { name: 'AZURE_OPENAI_DEPLOYMENT', value: azureOpenAiDeployment }
        { name: 'ACS_EMAIL_ENDPOINT', value: acsEmailEndpoint }
        { name: 'ACS_EMAIL_SENDER', value: acsEmailSender }
      ]
    }
  }
}

// The app's identity: host storage and videos, its vault's secrets (read and write store credentials), telemetry.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, app.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Store credentials are written by the app (connect a store), so it also sets secrets in its own vault.
resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, app.id, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, app.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageEvents 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: 'evgt-${name}-${suffix}'
  location: location
  // Its own identity writes dead letters: the account takes no shared keys.
  identity: { type: 'SystemAssigned' }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource videoUploaded 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = if (subscribeVideoUploads) {
  parent: storageEvents
  name: 'video-uploaded'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/VideoUploaded'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: videoSubjectPrefix
    }
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: { resourceId: storage.id, blobContainerName: deadLetterContainer }
      }
    }
  }
  dependsOn: [ deadLetterWriter, deadLetters ]
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, storageEvents.id, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: storageEvents.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output functionAppName string = app.name
output functionAppUrl string = 'https://${app.properties.defaultHostName}'
output dashboardUrl string = 'https://${app.properties.defaultHostName}/api/app/'
output storageAccountName string = storage.name
output keyVaultName string = vault.name
output keyVaultUri string = vault.properties.vaultUri
output videoSubjectPrefix string = videoSubjectPrefix
