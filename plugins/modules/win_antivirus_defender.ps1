#!powershell
# Copyright: contributors to this project
# Apache-2.0

#AnsibleRequires -CSharpUtil Ansible.Basic

# Collect only, in one call: Get-MpComputerStatus, the threat detections of the last
# threat_days days (Get-MpThreatDetection, Get-MpThreat for the names) and the
# SecurityCenter2 AntiVirusProduct entries (absent on Windows Server). The decisions are
# made in Python on the controller (plugins/module_utils/antivirus_defender.py, called by
# the win_antivirus_defender action plugin, plugins/action/win_antivirus_defender.py).
# Remediation, only when asked and never in check mode: Update-MpSignature when the
# signatures are update_if_age_days old or Defender says they are out of date (the status
# is read again afterwards), and a quick scan when no scan ran for quick_scan_after_days
# days (0: never), started in the background and reported as started.
# Dates are returned as ISO 8601 UTC strings, enums as numbers.

$spec = @{
    options = @{
        # Read by the action plugin, which derives the four options below from it: they have
        # no default here, the policy's thresholds are stated once (antivirus_decide.CHECKS).
        policy = @{ type = 'dict'; default = @{} }
        threat_days = @{ type = 'int'; required = $true }
        update_signatures = @{ type = 'bool'; required = $true }
        update_if_age_days = @{ type = 'int'; required = $true }
        quick_scan_after_days = @{ type = 'int'; required = $true }
        scan_start_wait_seconds = @{ type = 'int'; default = 5 }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$statusFields = @(
    'AMServiceEnabled', 'AntivirusEnabled', 'AntispywareEnabled', 'RealTimeProtectionEnabled',
    'OnAccessProtectionEnabled', 'IoavProtectionEnabled', 'BehaviorMonitorEnabled', 'IsTamperProtected',
    'AntivirusSignatureAge', 'AntivirusSignatureLastUpdated', 'AntivirusSignatureVersion',
    'QuickScanAge', 'FullScanAge', 'QuickScanEndTime', 'FullScanEndTime', 'AMRunningMode',
    'AMEngineVersion', 'AMProductVersion', 'AMServiceVersion', 'NISEngineVersion',
    'DefenderSignaturesOutOfDate', 'ComputerState'
)
$never = [uint32]::MaxValue

function ConvertTo-PlainValue {
    param($Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [datetime]) {
        # 1601-01-01 (FILETIME zero) means "not set".
        if ($Value.Year -lt 1700) { return $null }
        return $Value.ToUniversalTime().ToString('o')
    }
    if ($Value -is [enum]) { return [int64]$Value }
    if ($Value -is [array]) { return , @($Value | ForEach-Object { ConvertTo-PlainValue -Value $_ }) }
    return $Value
}

function Get-DefenderStatus {
    $status = Get-MpComputerStatus -ErrorAction Stop
    $names = @($status.PSObject.Properties | ForEach-Object { $_.Name })
    $out = [ordered]@{}
    foreach ($name in $statusFields) {
        if ($names -contains $name) { $out[$name] = ConvertTo-PlainValue -Value $status.$name }
    }
    return $out
}

function Get-LastScanAge {
    param($Status)
    $ages = @($Status.QuickScanAge, $Status.FullScanAge) | Where-Object { $null -ne $_ }
    if ($ages.Count -eq 0) { return $never }
    return ($ages | Measure-Object -Minimum).Minimum
}

$errors = [System.Collections.Generic.List[string]]::new()
$defender = [ordered]@{
    collected = (Get-Date).ToUniversalTime().ToString('o')
    computer_status = $null
    threats = $null
    active_threats = $null
    products = $null
    remediation = [ordered]@{}
    errors = $errors
}

try {
    $defender.computer_status = Get-DefenderStatus
}
catch {
    $defender.error = "Get-MpComputerStatus failed: $($_.Exception.Message)"
    $errors.Add($defender.error)
}

try {
    $since = (Get-Date).AddDays(-$module.Params.threat_days)
    $defender.threats = @(Get-MpThreatDetection -ErrorAction Stop | Where-Object {
            $null -eq $_.InitialDetectionTime -or $_.InitialDetectionTime -ge $since
        } | ForEach-Object {
            [ordered]@{
                DetectionID = $_.DetectionID
                ThreatID = ConvertTo-PlainValue -Value $_.ThreatID
                ThreatStatusID = ConvertTo-PlainValue -Value $_.ThreatStatusID
                ActionSuccess = $_.ActionSuccess
                CurrentThreatExecutionStatusID = ConvertTo-PlainValue -Value $_.CurrentThreatExecutionStatusID
                InitialDetectionTime = ConvertTo-PlainValue -Value $_.InitialDetectionTime
                LastThreatStatusChangeTime = ConvertTo-PlainValue -Value $_.LastThreatStatusChangeTime
                RemediationTime = ConvertTo-PlainValue -Value $_.RemediationTime
                Resources = ConvertTo-PlainValue -Value $_.Resources
            }
        })
    $defender.active_threats = @(Get-MpThreat -ErrorAction Stop | ForEach-Object {
            [ordered]@{
                ThreatID = ConvertTo-PlainValue -Value $_.ThreatID
                ThreatName = $_.ThreatName
                SeverityID = ConvertTo-PlainValue -Value $_.SeverityID
                IsActive = $_.IsActive
                DidThreatExecute = $_.DidThreatExecute
            }
        })
}
catch {
    $defender.threats = $null
    $defender.active_threats = $null
    $errors.Add("Get-MpThreatDetection failed: $($_.Exception.Message)")
}

try {
    # SecurityCenter2 exists on client editions only; on Windows Server this fails and
    # products stays null ("not read"), which the decide code tells apart from "none".
    $defender.products = @(Get-CimInstance -Namespace 'root/SecurityCenter2' -ClassName AntiVirusProduct -ErrorAction Stop |
            ForEach-Object {
                [ordered]@{
                    displayName = $_.displayName
                    productState = ConvertTo-PlainValue -Value $_.productState
                    timestamp = $_.timestamp
                }
            })
}
catch {
    $errors.Add("SecurityCenter2 not available: $($_.Exception.Message)")
}

$status = $defender.computer_status
$changed = $false
if ($null -ne $status -and ($null -eq $status.AMRunningMode -or $status.AMRunningMode -eq 'Normal')) {
    if ($module.Params.update_signatures) {
        $outOfDate = $status.DefenderSignaturesOutOfDate -eq $true
        if ($module.CheckMode) {
            $defender.remediation.signatures = [ordered]@{ skipped = 'check mode' }
        }
        elseif ($outOfDate -or $status.AntivirusSignatureAge -ge $module.Params.update_if_age_days) {
            $action = [ordered]@{ attempted = $true; before = $status.AntivirusSignatureVersion }
            $started = Get-Date
            try {
                Update-MpSignature -ErrorAction Stop
            }
            catch {
                $action.error = $_.Exception.Message
            }
            $action.duration_s = [math]::Round(((Get-Date) - $started).TotalSeconds, 1)
            try {
                $status = Get-DefenderStatus
                $defender.computer_status = $status
                $action.after = $status.AntivirusSignatureVersion
            }
            catch {
                $errors.Add("Get-MpComputerStatus after the update failed: $($_.Exception.Message)")
            }
            $action.changed = ($null -ne $action.after -and $action.after -ne $action.before)
            $changed = $changed -or $action.changed
            $defender.remediation.signatures = $action
        }
    }
    $quickScanAfter = $module.Params.quick_scan_after_days
    if ($quickScanAfter -gt 0 -and (Get-LastScanAge -Status $status) -ge $quickScanAfter) {
        if ($module.CheckMode) {
            $defender.remediation.quick_scan = [ordered]@{ skipped = 'check mode' }
        }
        else {
            # A quick scan takes minutes on a real host: start it as a background job
            # (Start-MpScan -AsJob, a documented parameter), wait a few seconds only to catch
            # an immediate refusal, and report it as started, not as done.
            $action = [ordered]@{ attempted = $true; before = $status.QuickScanEndTime; changed = $false }
            $started = Get-Date
            try {
                $job = Start-MpScan -ScanType QuickScan -AsJob -ErrorAction Stop
                $null = Wait-Job -Job $job -Timeout $module.Params.scan_start_wait_seconds
                $action.job_state = [string]$job.State
                if ($job.State -eq 'Failed') {
                    $reason = $job.ChildJobs | ForEach-Object { $_.JobStateInfo.Reason } | Select-Object -First 1
                    $action.error = "Start-MpScan failed: $reason"
                }
                else {
                    $action.started = $true
                    $action.completed = ($job.State -eq 'Completed')
                    $action.changed = $true
                }
            }
            catch {
                $action.error = $_.Exception.Message
            }
            $action.duration_s = [math]::Round(((Get-Date) - $started).TotalSeconds, 1)
            $changed = $changed -or $action.changed
            $defender.remediation.quick_scan = $action
        }
    }
}

$module.Result.defender = $defender
$module.Result.changed = $changed
$module.ExitJson()
