import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import { router } from './router';
import { i18n } from './i18n';
import { installRealtime } from './realtime';
import './styles/theme.css';
import { probeGl } from './map/render-scale';

// Without a GPU every animated frame is composited on the CPU: the live badge's pulsing dot alone
// kept the wall's browser at a full core and doubled its first frame (docs/benchmarks.md). Pages
// mark it so ambient motion stands still there (alarms still flash).
if (probeGl().software) document.documentElement.classList.add('software-gl');

const app = createApp(App);
app.use(createPinia());
app.use(i18n);
app.use(router);
installRealtime();
app.mount('#app');
