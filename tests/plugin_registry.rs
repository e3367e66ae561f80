//! The plugin registry's level rules with the real plugin: providers and triggers appear only for
//! a tenant-level installation; reinstalling goes through `prepare_install`, which refuses a
//! lower level over a tenant-level installation and hands back the old installation to stop.

mod plugin_common;

use host_sdk::host::{PluginRegistry, TestHost};
use host_sdk::{ErrorCode, InstallLevel};
use plugin_common::*;

#[test]
fn providers_and_triggers_come_only_from_a_tenant_level_installation() {
    let host = TestHost::new();
    let mut registry = PluginRegistry::new();
    registry.add_loaded(load_wecom()).expect("first load");
    let again = registry.add_loaded(load_wecom()).unwrap_err();
    assert_eq!(again.code, ErrorCode::CONFLICT, "{}", again.message);

    let inst = registry.install("wecom", InstallLevel::Project, "t1", host.services(), host.handle()).unwrap();
    assert_eq!(inst.level, InstallLevel::Project);
    assert!(!inst.warnings.is_empty());
    assert!(registry.provider("t1", "wecom").is_none(), "no provider below tenant level");
    assert!(registry.trigger("t1", "wecom").is_none(), "no trigger below tenant level");
    assert_eq!(registry.routes("t1").count(), 3, "routes are not system integrations");

    let again = registry.install("wecom", InstallLevel::Tenant, "t1", host.services(), host.handle()).unwrap_err();
    assert_eq!(again.code, ErrorCode::CONFLICT, "an installation must be removed and stopped before another");
    let old = registry.prepare_install("wecom", InstallLevel::Tenant, "t1").unwrap().expect("the project install");
    old.stop(std::time::Duration::from_secs(2)).expect("the old installation stops");
    let inst = registry.install("wecom", InstallLevel::Tenant, "t1", host.services(), host.handle()).unwrap();
    assert!(inst.warnings.is_empty());
    assert_eq!(registry.installations().count(), 1, "reinstalling replaces the earlier installation");
    assert!(registry.provider("t1", "wecom").is_some());
    assert!(registry.provider("t1", "wecom_long").is_some());
    assert!(registry.trigger("t1", "wecom").is_some());
    assert_eq!(registry.views_for("t1", "wecom_long").count(), 1);
    assert_eq!(registry.views_for("t1", "slack").count(), 0);
    assert!(registry.provider("t2", "wecom").is_none(), "installations are per tenant");

    let downgrade = registry.prepare_install("wecom", InstallLevel::Personal, "t1").unwrap_err();
    assert_eq!(downgrade.code, ErrorCode::CONFLICT);
    assert!(downgrade.message.contains("uninstall it first"), "{}", downgrade.message);
    assert!(registry.provider("t1", "wecom").is_some(), "a refused downgrade changes nothing");

    let missing = registry.install("nope", InstallLevel::Tenant, "t1", host.services(), host.handle()).unwrap_err();
    assert_eq!(missing.code, ErrorCode::NOT_FOUND);
    let removed = registry.remove_tenant("t1");
    assert_eq!(removed.len(), 1);
    assert!(registry.provider("t1", "wecom").is_none());
    assert!(host_sdk::host::stop_all(removed, std::time::Duration::from_secs(2)).is_empty());
}
