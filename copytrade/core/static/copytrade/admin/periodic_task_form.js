"use strict";
// django-celery-beat's periodic-task form behaviour (its template ran this inline, which the CSP blocks):
// show the chosen crontab in words under the crontab field.
{
    const $ = django.jQuery;
    const script = document.getElementById("periodic-task-overrides");
    const readableCrontabs = JSON.parse(document.getElementById("readable-crontabs").textContent);
    const originalCrontabHelp = script.dataset.crontabHelp;

    const updateCrontabHelp = function(additional) {
        $(".field-crontab .help").empty().append(
            document.createTextNode(originalCrontabHelp),
            document.createElement("br"),
            document.createTextNode(`Translation: ${additional}`),
        );
    };

    $(".field-crontab_translation").hide();
    $(".field-crontab").change(function() {
        updateCrontabHelp(readableCrontabs[$("#id_crontab").val()]);
    });
}
