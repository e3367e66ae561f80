// Both languages of the UI's own texts, and helpers for the labels plugins send as
// {en_US, zh_Hans} objects (or plain strings).

const TEXT = {
  en_US: {
    plugins: 'Plugins', settings: 'Settings', integrations: 'System Integrations', experts: 'Digital Experts',
    logout: 'Log out',
    login: 'Sign in', token: 'Admin or tenant token',
    tokenHint: 'The admin token is printed by {cmd} at first start (or set with {env}); a tenant token is shown once when the tenant is created. It is kept in this browser.',
    tenant: 'Tenant', admin: 'admin', uninstall: 'Uninstall', confirmUninstall: 'Uninstall {name} from this tenant?',
    uninstalledOk: 'Uninstalled {name}.',
    tokenRejected: 'The token was rejected. Sign in again.',
    available: 'Available plugins', installed: 'Installed plugins', install: 'Install', level: 'Level', name: 'Name',
    version: 'Version', abi: 'ABI', status: 'Status', notInstalled: 'not installed', installedAt: 'installed',
    yes: 'yes', no: 'no', providers: 'Providers', triggerKinds: 'Triggers', scope: 'Scope',
    installedOk: 'Installed {name} at {level} level.', warnings: 'Warnings',
    tenantHint: 'WeCom is a communication plugin: install it at tenant level to register its system integrations and the WeCom Trigger.',
    newIntegration: 'New', provider: 'Provider', enabled: 'Enabled', disabled: 'Disabled', open: 'Open', delete: 'Delete', edit: 'Edit',
    save: 'Save', test: 'Test', cancel: 'Cancel', setup: 'Setup', callbackUrl: 'Callback URL',
    websocketUrl: 'WebSocket URL', mode: 'Mode', confirmDelete: 'Delete the integration "{name}"?', saved: 'Saved.',
    deleted: 'Deleted the integration "{name}".', testOk: 'The check passed.', testFailed: 'The check failed.',
    noProviders: 'No integration provider is registered. Install the WeCom plugin at tenant level first (Plugins page).',
    providerMissing: 'The provider "{name}" is not registered. WeCom must be installed at tenant level.',
    listUnavailable: 'This server does not list integrations (GET /api/integration); open one by its link.',
    secretKept: 'Leave ****** to keep the stored secret; type a new value to replace it.',
    required: 'required', none: 'Nothing yet.', search: 'Search', prev: 'Previous', next: 'Next',
    pageOf: 'Page {page} / {pages} · {total} rows', pageSize: 'Rows per page', noTabs: 'This integration has no extra tabs.',
    actionDone: 'Done.', actionFailed: 'The action failed.',
    createExpert: 'Create Digital Expert', agent: 'Agent', create: 'Create', published: 'Published', draft: 'Draft',
    addTrigger: 'Add WeCom Trigger', saveTriggers: 'Save triggers', publish: 'Publish', unpublish: 'Unpublish',
    integration: 'Integration', sessionTimeout: 'Session Timeout (s)', summaryWindow: 'Message Aggregation Window (s)',
    remove: 'Remove', checklist: 'Publishing is blocked by the trigger checklist:', publishedOk: 'Published.',
    unpublishedOk: 'Unpublished.', triggers: 'Triggers', noTriggers: 'No trigger yet.', baseUrl: 'Base URL',
    apiKey: 'API key', model: 'Model', systemPrompt: 'System prompt', back: 'Back', noIntegrations:
      'No WeCom integration yet: create one under System Integrations.',
    triggerNotRegistered: 'The WeCom Trigger is not registered: install the WeCom plugin at tenant level.',
    language: 'Language', created: 'Created', updated: 'Updated', id: 'ID',
    loginEmpty: 'Enter the admin token or a tenant token to sign in.',
    dialogCancel: 'Cancel', close: 'Close', copy: 'Copy', copied: 'Copied to the clipboard.', copyFailed: 'Copy failed: select the text and copy it yourself.',
    nextStep: 'Next step:', nextCreateIntegration: 'create a WeCom integration under System Integrations', changeLevel: 'Change level',
    uninstallTitle: 'Uninstall {name}?',
    uninstallBody: 'Its integrations stay stored, but their connections stop and the WeCom Trigger is gone until you install it again in this tenant.',
    deleteIntegrationTitle: 'Delete the integration "{name}"?',
    deleteIntegrationBody: 'Its settings and sessions are removed and WeCom can no longer reach it. This cannot be undone.',
    deleteXpert: 'Delete', deleteXpertTitle: 'Delete the Digital Expert "{name}"?',
    deleteXpertBody: 'Its agent settings and draft triggers are removed. This cannot be undone.',
    deleteXpertPublished: '"{name}" is published: unpublish it first, then delete it.',
    xpertDeleted: 'Deleted the Digital Expert "{name}".',
    unpublishTitle: 'Unpublish "{name}"?',
    unpublishBody: 'Its WeCom Triggers stop: users of the bound integrations are told that no Digital Expert is connected until you publish again.',
    actionConfirmTitle: 'Please confirm', fieldInvalid: 'Check the highlighted fields.',
    fieldRequired: '{label} is required.', fieldLength: '{label} must be exactly {n} characters (you entered {got}).',
    fieldMinLength: '{label} must be at least {n} characters (you entered {got}).', fieldMaxLength: '{label} must be at most {n} characters (you entered {got}).',
    fieldMin: '{label} must be at least {n}.', fieldMax: '{label} must be at most {n}.', fieldInteger: '{label} must be a whole number.',
    danglingIntegration: 'Deleted integration — choose another',
    danglingHint: 'The integration this trigger used was deleted. Choose another integration or remove the trigger.',
    tryIt: 'Try it', tryHint: 'Send a message to this Digital Expert and watch its answer arrive.', message: 'Message', send: 'Send',
    newConversation: 'New conversation', you: 'You', answering: 'Answering…', runFailed: 'The run ended with an error: {error}',
    agentEcho: 'Echo (test agent)', agentOpenai: 'OpenAI-compatible endpoint',
    modeWebhook: 'Short connection (callback URL)', modeLong: 'Long connection (WebSocket)',
    dangerZone: 'Delete', integrationsOf: 'Integrations', pageError: 'This page could not be shown.',
    stateLabel: 'State', networkError: 'The host cannot be reached. Check that xpert-host is running.',
    checklistLevelError: 'error', checklistLevelWarning: 'warning',
  },
  zh_Hans: {
    plugins: '插件', settings: '设置', integrations: '系统集成', experts: '数字专家', logout: '退出登录',
    login: '登录', token: '管理员或租户令牌',
    tokenHint: '管理员令牌由 {cmd} 首次启动时打印（或通过 {env} 设置）；租户令牌仅在创建租户时显示一次。令牌保存在本浏览器中。',
    tenant: '租户', admin: '管理员', uninstall: '卸载', confirmUninstall: '确定从本租户卸载 {name}？',
    uninstalledOk: '已卸载 {name}。',
    tokenRejected: '令牌无效，请重新登录。',
    available: '可用插件', installed: '已安装插件', install: '安装', level: '级别', name: '名称',
    version: '版本', abi: 'ABI', status: '状态', notInstalled: '未安装', installedAt: '已安装',
    yes: '是', no: '否', providers: '集成类型', triggerKinds: '触发器', scope: '范围',
    installedOk: '已在{level}级别安装 {name}。', warnings: '警告',
    tenantHint: '企业微信是通信类插件：需在租户级别安装，才会注册系统集成与企业微信触发器。',
    newIntegration: '新建', provider: '类型', enabled: '启用', disabled: '已停用', open: '打开', delete: '删除', edit: '编辑',
    save: '保存', test: '测试', cancel: '取消', setup: '接入信息', callbackUrl: '回调地址',
    websocketUrl: 'WebSocket 地址', mode: '模式', confirmDelete: '确定删除集成“{name}”？', saved: '已保存。',
    deleted: '已删除集成“{name}”。', testOk: '检查通过。', testFailed: '检查未通过。',
    noProviders: '尚无集成类型。请先在“插件”页面以租户级别安装企业微信插件。',
    providerMissing: '集成类型“{name}”未注册：企业微信插件必须在租户级别安装。',
    listUnavailable: '该服务器不提供集成列表（GET /api/integration）；请通过链接打开集成。',
    secretKept: '保留 ****** 即沿用已保存的密钥；输入新值则替换。',
    required: '必填', none: '暂无数据。', search: '搜索', prev: '上一页', next: '下一页',
    pageOf: '第 {page} / {pages} 页 · 共 {total} 条', pageSize: '每页条数', noTabs: '该集成没有扩展标签页。',
    actionDone: '已完成。', actionFailed: '操作失败。',
    createExpert: '创建数字专家', agent: '智能体', create: '创建', published: '已发布', draft: '草稿',
    addTrigger: '添加企业微信触发器', saveTriggers: '保存触发器', publish: '发布', unpublish: '取消发布',
    integration: '集成', sessionTimeout: '会话超时（秒）', summaryWindow: '消息聚合窗口（秒）',
    remove: '移除', checklist: '触发器检查未通过，无法发布：', publishedOk: '已发布。',
    unpublishedOk: '已取消发布。', triggers: '触发器', noTriggers: '尚无触发器。', baseUrl: 'Base URL',
    apiKey: 'API Key', model: '模型', systemPrompt: '系统提示词', back: '返回',
    noIntegrations: '尚无企业微信集成：请先在“系统集成”中创建。',
    triggerNotRegistered: '企业微信触发器未注册：请在租户级别安装企业微信插件。',
    language: '语言', created: '创建时间', updated: '更新时间', id: 'ID',
    loginEmpty: '请输入管理员令牌或租户令牌后登录。',
    dialogCancel: '取消', close: '关闭', copy: '复制', copied: '已复制到剪贴板。', copyFailed: '复制失败：请手动选择文本复制。',
    nextStep: '下一步：', nextCreateIntegration: '在“系统集成”中创建企业微信集成', changeLevel: '更改级别',
    uninstallTitle: '确定卸载 {name}？',
    uninstallBody: '其集成仍会保留，但连接会停止，企业微信触发器也将不可用，直到在本租户重新安装。',
    deleteIntegrationTitle: '确定删除集成“{name}”？',
    deleteIntegrationBody: '其配置与会话将被删除，企业微信将无法再访问它。此操作无法撤销。',
    deleteXpert: '删除', deleteXpertTitle: '确定删除数字专家“{name}”？',
    deleteXpertBody: '其智能体设置与草稿触发器将被删除。此操作无法撤销。',
    deleteXpertPublished: '“{name}”已发布：请先取消发布，再删除。',
    xpertDeleted: '已删除数字专家“{name}”。',
    unpublishTitle: '确定取消发布“{name}”？',
    unpublishBody: '其企业微信触发器将停止：在重新发布之前，所绑定集成的用户会收到“未连接数字专家”的提示。',
    actionConfirmTitle: '请确认', fieldInvalid: '请检查标出的字段。',
    fieldRequired: '{label}为必填项。', fieldLength: '{label}必须正好为 {n} 个字符（当前为 {got} 个）。',
    fieldMinLength: '{label}至少需要 {n} 个字符（当前为 {got} 个）。', fieldMaxLength: '{label}最多 {n} 个字符（当前为 {got} 个）。',
    fieldMin: '{label}不能小于 {n}。', fieldMax: '{label}不能大于 {n}。', fieldInteger: '{label}必须是整数。',
    danglingIntegration: '已删除的集成——请另选',
    danglingHint: '该触发器使用的集成已被删除。请选择其他集成，或移除该触发器。',
    tryIt: '试一试', tryHint: '向该数字专家发送一条消息，实时查看它的回答。', message: '消息', send: '发送',
    newConversation: '新对话', you: '你', answering: '正在回答…', runFailed: '运行出错：{error}',
    agentEcho: 'Echo（测试智能体）', agentOpenai: '兼容 OpenAI 的接口',
    modeWebhook: '短连接（回调地址）', modeLong: '长连接（WebSocket）',
    dangerZone: '删除', integrationsOf: '集成', pageError: '无法显示此页面。',
    stateLabel: '状态', networkError: '无法连接到主机。请确认 xpert-host 正在运行。',
    checklistLevelError: '错误', checklistLevelWarning: '警告',
  },
};

const LEVELS = {
  en_US: { tenant: 'tenant', organization: 'organization', project: 'project', personal: 'personal' },
  zh_Hans: { tenant: '租户', organization: '组织', project: '项目', personal: '个人' },
};

let lang = localStorage.getItem('xpert.lang') === 'zh_Hans' ? 'zh_Hans' : 'en_US';

/** The current language: `en_US` or `zh_Hans`. */
export const currentLang = () => lang;

/** Switches the language (remembered in localStorage). */
export function setLang(value) {
  lang = value === 'zh_Hans' ? 'zh_Hans' : 'en_US';
  localStorage.setItem('xpert.lang', lang);
  document.documentElement.lang = lang === 'zh_Hans' ? 'zh-Hans' : 'en';
}

/** The UI text `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = TEXT[lang][key] ?? TEXT.en_US[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/**
 * The UI text `key` as a list of strings and nodes: each `{name}` placeholder is replaced by
 * `vars[name]`, which may be an element (e.g. a `<code>` for a command name).
 */
export function tParts(key, vars = {}) {
  const text = TEXT[lang][key] ?? TEXT.en_US[key] ?? key;
  return text.split(/(\{\w+\})/).filter((p) => p !== '').map((p) => {
    const m = /^\{(\w+)\}$/.exec(p);
    return m && m[1] in vars ? vars[m[1]] : p;
  });
}

/** An installation level's name in the current language. */
export const levelName = (level) => LEVELS[lang][level] || level;

/**
 * A plugin-provided label in the current language: `{en_US, zh_Hans}` objects pick the language
 * (falling back to the other one), strings and numbers are returned as they are.
 */
export function L(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return value[lang] || value.en_US || value.zh_Hans || Object.values(value).find((v) => typeof v === 'string') || '';
  return String(value);
}

/** Formats an RFC 3339 time (or epoch milliseconds) for the current language; '—' when empty. */
export function formatDateTime(value) {
  if (value === null || value === undefined || value === '') return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(lang === 'zh_Hans' ? 'zh-CN' : 'en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

/**
 * What a person reads for an API error: its `localized` text in the current language (the
 * server sends every error in both), else its message.
 */
export function errorText(err) {
  if (err && err.status === 0) return TEXT[lang].networkError;
  return L(err && err.localized) || (err && err.message) || '';
}

/** A setup mode (`webhook`, `long_connection`) in words. */
export function modeName(mode) {
  if (mode === 'webhook' || mode === 'short_connection') return t('modeWebhook');
  if (mode === 'long_connection') return t('modeLong');
  return mode || '';
}
