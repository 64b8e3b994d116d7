#!powershell
# Copyright: contributors to this project
# Apache-2.0

#AnsibleRequires -CSharpUtil Ansible.Basic

# Collect only: volumes, physical disks with their reliability counters, reboot
# indicators, memory and uptime. The decisions are made in Python on the controller
# (plugins/module_utils/hardware_win.py, called by the win_hardware action plugin,
# plugins/action/win_hardware.py). Enum values are returned as their numbers.
# PendingFileRenameOperations is deliberately not read: antivirus and installers
# set it all the time, so it says nothing about a pending reboot.
# With watch (the health watch), also: the critical services of the supervision policy
# (Get-Service, by name or display name), the automatic services stopped with a non-zero exit
# code (Win32_Service), and the failed logons (Security event 4625) since `since`.

$spec = @{
    options = @{
        policy = @{ type = 'dict'; default = @{} }
        watch = @{ type = 'bool'; default = $false }
        supervision = @{ type = 'dict'; default = @{} }
        since = @{ type = 'str' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

function ConvertTo-NullableInt64 {
    param($Value)
    # A missing value stays null: casting null to a number would read as 0 (Healthy).
    if ($null -eq $Value) { return $null }
    return [int64]$Value
}

function Get-RegistryString {
    param([string]$Path, [string]$Name)
    $item = Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction Stop
    return [string]$item.$Name
}

$facts = [ordered]@{}

try {
    $facts.volumes = @(Get-CimInstance -ClassName Win32_Volume -ErrorAction Stop | ForEach-Object {
        [ordered]@{
            name = $_.Name
            label = $_.Label
            file_system = $_.FileSystem
            drive_type = ConvertTo-NullableInt64 $_.DriveType
            capacity = ConvertTo-NullableInt64 $_.Capacity
            free_space = ConvertTo-NullableInt64 $_.FreeSpace
        }
    })
}
catch {
    $facts.volumes = @()
    $facts.volumes_error = $_.Exception.Message
}

try {
    $disks = @(Get-CimInstance -Namespace 'root/Microsoft/Windows/Storage' -ClassName MSFT_PhysicalDisk -ErrorAction Stop)
    $facts.physical_disks = @(foreach ($disk in $disks) {
        $entry = [ordered]@{
            device_id = [string]$disk.DeviceId
            friendly_name = $disk.FriendlyName
            serial_number = if ($disk.SerialNumber) { $disk.SerialNumber.Trim() } else { $null }
            media_type = ConvertTo-NullableInt64 $disk.MediaType
            bus_type = ConvertTo-NullableInt64 $disk.BusType
            health_status = ConvertTo-NullableInt64 $disk.HealthStatus
            operational_status = @($disk.OperationalStatus | Where-Object { $null -ne $_ } | ForEach-Object { [int64]$_ })
            operational_details = @($disk.OperationalDetails | Where-Object { $_ })
            size = ConvertTo-NullableInt64 $disk.Size
            reliability = $null
        }
        try {
            $counter = Get-StorageReliabilityCounter -PhysicalDisk $disk -ErrorAction Stop
            if ($counter) {
                $entry.reliability = [ordered]@{
                    temperature = ConvertTo-NullableInt64 $counter.Temperature
                    temperature_max = ConvertTo-NullableInt64 $counter.TemperatureMax
                    read_errors_total = ConvertTo-NullableInt64 $counter.ReadErrorsTotal
                    read_errors_uncorrected = ConvertTo-NullableInt64 $counter.ReadErrorsUncorrected
                    write_errors_total = ConvertTo-NullableInt64 $counter.WriteErrorsTotal
                    write_errors_uncorrected = ConvertTo-NullableInt64 $counter.WriteErrorsUncorrected
                    wear = ConvertTo-NullableInt64 $counter.Wear
                    power_on_hours = ConvertTo-NullableInt64 $counter.PowerOnHours
                    start_stop_cycle_count = ConvertTo-NullableInt64 $counter.StartStopCycleCount
                }
            }
        }
        catch {
            $entry.reliability_error = $_.Exception.Message
        }
        $entry
    })
}
catch {
    $facts.physical_disks = @()
    $facts.physical_disks_error = $_.Exception.Message
}

$reboot = [ordered]@{}
try {
    $cbs = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
    $wu = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
    $names = 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName'
    $reboot.cbs_reboot_pending = Test-Path -LiteralPath $cbs
    $reboot.wu_reboot_required = Test-Path -LiteralPath $wu
    $reboot.active_computer_name = Get-RegistryString -Path "$names\ActiveComputerName" -Name 'ComputerName'
    $reboot.pending_computer_name = Get-RegistryString -Path "$names\ComputerName" -Name 'ComputerName'
}
catch {
    $reboot.error = $_.Exception.Message
}
$facts.reboot = $reboot

try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop
    $facts.os = [ordered]@{
        caption = $os.Caption
        version = $os.Version
        total_visible_memory_kb = ConvertTo-NullableInt64 $os.TotalVisibleMemorySize
        free_physical_memory_kb = ConvertTo-NullableInt64 $os.FreePhysicalMemory
        uptime_seconds = [int64]((Get-Date) - $os.LastBootUpTime).TotalSeconds
    }
}
catch {
    $facts.os = [ordered]@{ error = $_.Exception.Message }
}

function Get-EventField {
    param($Xml, [string]$Name)
    $node = $Xml.Event.EventData.Data | Where-Object { $_.Name -eq $Name } | Select-Object -First 1
    if ($null -eq $node) { return $null }
    return [string]$node.'#text'
}

if ($module.Params.watch) {
    $watch = [ordered]@{}
    $critical = @()
    if ($module.Params.supervision -and $module.Params.supervision.critical_services) {
        $critical = @($module.Params.supervision.critical_services)
    }
    $watch.services = @(foreach ($name in $critical) {
        $svc = Get-Service -Name $name -ErrorAction SilentlyContinue
        if (-not $svc) { $svc = Get-Service -DisplayName $name -ErrorAction SilentlyContinue | Select-Object -First 1 }
        if ($svc) {
            [ordered]@{
                name = [string]$name
                found = $true
                service_name = $svc.ServiceName
                display_name = $svc.DisplayName
                status = [int]$svc.Status
                start_type = [int]$svc.StartType
            }
        }
        else {
            [ordered]@{ name = [string]$name; found = $false }
        }
    })
    try {
        $watch.failed = @(Get-CimInstance -ClassName Win32_Service -Filter "StartMode='Auto' AND State<>'Running'" -ErrorAction Stop |
            Where-Object { $_.ExitCode -ne 0 } | ForEach-Object {
                [ordered]@{ name = $_.Name; display_name = $_.DisplayName; exit_code = [int64]$_.ExitCode; state = $_.State }
            })
    }
    catch {
        $watch.failed = $null
        $watch.failed_error = $_.Exception.Message
    }

    $until = (Get-Date).ToUniversalTime()
    if ($module.Params.since) {
        $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
        $since = [datetime]::Parse($module.Params.since, [Globalization.CultureInfo]::InvariantCulture, $styles)
    }
    else {
        $since = $until.AddMinutes(-15)
    }
    $logons = [ordered]@{
        readable = $false
        error = ''
        since = $since.ToString('yyyy-MM-ddTHH:mm:ssZ')
        until = $until.ToString('yyyy-MM-ddTHH:mm:ssZ')
        truncated = $false
        events = @()
    }
    $maxEvents = 5000
    try {
        $filter = @{ LogName = 'Security'; Id = 4625; StartTime = $since.ToLocalTime(); EndTime = $until.ToLocalTime() }
        $found = @(Get-WinEvent -FilterHashtable $filter -MaxEvents $maxEvents -ErrorAction Stop)
        $logons.events = @(foreach ($event in $found) {
            $xml = [xml]$event.ToXml()
            [ordered]@{
                TimeCreated = $event.TimeCreated.ToUniversalTime().ToString('o')
                TargetUserName = Get-EventField -Xml $xml -Name 'TargetUserName'
                TargetDomainName = Get-EventField -Xml $xml -Name 'TargetDomainName'
                IpAddress = Get-EventField -Xml $xml -Name 'IpAddress'
                IpPort = Get-EventField -Xml $xml -Name 'IpPort'
                LogonType = Get-EventField -Xml $xml -Name 'LogonType'
                Status = Get-EventField -Xml $xml -Name 'Status'
                SubStatus = Get-EventField -Xml $xml -Name 'SubStatus'
            }
        })
        $logons.truncated = ($found.Count -ge $maxEvents)
        $logons.readable = $true
    }
    catch {
        if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') {
            $logons.readable = $true
        }
        else {
            $logons.error = $_.Exception.Message
        }
    }
    $watch.logon_failures = $logons
    $facts.watch = $watch
    $module.Result.watch_since = $logons.since
    $module.Result.watch_until = $logons.until
}

$module.Result.changed = $false
$module.Result.hardware_raw = $facts
$module.ExitJson()
